#!/usr/bin/env bash
# Builds the Plexus benchmark runner in release mode, runs it and the reference scripts
# (PyTorch, onnxruntime) one after the other on this machine, and prints time ratios.
#
# Usage: scripts/bench.sh [--seconds S] [--only NAME,...]
# Python: uses $PLEXUS_BENCH_PYTHON, else .venv-bench/bin/python (created on first use with
# torch, onnx, onnxruntime, numpy and scikit-learn from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PLEXUS_BENCH_PYTHON:-}
if [ -z "$python" ]; then
  if [ ! -x .venv-bench/bin/python ]; then
    echo "creating .venv-bench (torch, onnxruntime, ...) — this downloads several hundred MB" >&2
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet torch onnx onnxruntime numpy scikit-learn safetensors
  fi
  python=.venv-bench/bin/python
fi

swift build -c release --product PlexusBenchmarks >&2
results=$(mktemp)
trap 'rm -f "$results"' EXIT
.build/release/PlexusBenchmarks "$@" | tee -a "$results"
for reference in Benchmarks/reference_*.py; do
  "$python" "$reference" "$@" | tee -a "$results"
done
echo
"$python" Benchmarks/compare.py < "$results"
