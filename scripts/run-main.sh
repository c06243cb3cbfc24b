#!/usr/bin/env bash
# The main job: sets up a fresh Debian/Ubuntu machine (system packages; the Swift toolchain
# must already be installed), builds the `plexus` tool, trains the MLP of
# Examples/digits-mlp.json on the bundled digits with progress, saves it, reloads the saved
# file and reports the reloaded model's accuracy on the held-out test split.
#
# Usage: scripts/run-main.sh [model file, default digits-mlp.plexus]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

model=${1:-digits-mlp.plexus}
echo "building the plexus tool (release)" >&2
swift build -c release --product plexus
plexus=.build/release/plexus

"$plexus" train Examples/digits-mlp.json --output "$model"
echo
echo "reloading $model"
"$plexus" summary "$model"
"$plexus" evaluate "$model" --data Examples/digits-mlp.json
