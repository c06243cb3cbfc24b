#!/usr/bin/env bash
# Runs the ONNX import benchmark (release build) and the Python reference (onnx.load) on the
# same 25.2-million-parameter file, one after the other. Python comes from $PYTHON (default:
# python3) and needs onnx and numpy, e.g.:
#   python3 -m venv .venv && .venv/bin/pip install numpy onnx
#   PYTHON=.venv/bin/python scripts/bench-onnx.sh [results folder] [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
results="${1:-Benchmarks/results}"
repeats="${2:-3}"
swift build -c release --product PlexusONNXBenchmark
"$(swift build -c release --show-bin-path)/PlexusONNXBenchmark" "$results" "$repeats"
"${PYTHON:-python3}" Benchmarks/onnx_reference.py "$results" "$repeats"
rm -f "$results/bench.onnx"
