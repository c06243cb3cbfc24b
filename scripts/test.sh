#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (system packages; the Swift toolchain must already be
# installed), builds Plexus and runs the whole test suite.
#
# Usage: scripts/test.sh [extra swift test arguments, e.g. --filter PerceptronTests]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

configuration=${PLEXUS_TEST_CONFIGURATION:-debug}
echo "building Plexus and its tests ($configuration)" >&2
swift build --build-tests -c "$configuration"
swift test --skip-build -c "$configuration" "$@"
