#!/usr/bin/env bash
# Builds the DocC documentation of every public module (Sources/<Module>/<Module>.docc) with
# swift-docc-plugin, treating every warning as an error: a broken symbol link, an undocumented
# parameter or a missing page fails the run. Archives go to .build/plugins/Swift-DocC/outputs.
#
#   scripts/docs.sh [extra generate-documentation arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
for module in PlexusCore PlexusPerceptron PlexusConvolution PlexusDatasets PlexusDBN \
  PlexusAutoencoder PlexusRecurrent PlexusInterop PlexusONNX Plexus PlexusCommands; do
  targets+=(--target "$module")
done
swift package --disable-sandbox generate-documentation "${targets[@]}" --warnings-as-errors "$@"
