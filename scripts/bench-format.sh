#!/usr/bin/env bash
# Runs the .plexus format benchmark (release build) and the Python reference on the same
# tensors, one after the other. Python comes from $PYTHON (default: python3) and needs numpy,
# safetensors and torch, e.g. in a virtual environment:
#   python3 -m venv .venv && .venv/bin/pip install numpy safetensors torch
#   PYTHON=.venv/bin/python scripts/bench-format.sh
set -euo pipefail
cd "$(dirname "$0")/.."
results="${1:-Benchmarks/results}"
swift build -c release --product PlexusFormatBenchmark
"$(swift build -c release --show-bin-path)/PlexusFormatBenchmark" "$results"
"${PYTHON:-python3}" Benchmarks/format_reference.py "$results"
rm -f "$results/weights.f32"
