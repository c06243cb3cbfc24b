"""Reference figures for the ONNX import benchmark: onnx.load (and onnx.load plus converting
every initializer to numpy, which is what an import reads) on bench.onnx, written by
PlexusONNXBenchmark to the results folder.

    python3 Benchmarks/onnx_reference.py [results folder] [repeats]   (default: Benchmarks/results, 3)

Needs onnx and numpy.
"""
import json
import os
import sys
import time

import onnx
from onnx import numpy_helper

folder = sys.argv[1] if len(sys.argv) > 1 else "Benchmarks/results"
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
path = os.path.join(folder, "bench.onnx")
megabytes = os.path.getsize(path) / 1e6


def best(body):
    result = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        result = min(result, time.perf_counter() - start)
    return result


def load_arrays():
    model = onnx.load(path)
    for tensor in model.graph.initializer:
        numpy_helper.to_array(tensor)


rows = {"onnx.load": best(lambda: onnx.load(path)), "onnx.load + numpy arrays": best(load_arrays)}
for name, seconds in rows.items():
    print(f"Python {name:38} {seconds * 1000:8.1f} ms  {megabytes / seconds:7.0f} MB/s (file)")
with open(os.path.join(folder, "onnx-reference.json"), "w") as handle:
    json.dump(rows, handle, indent=2, sort_keys=True)
