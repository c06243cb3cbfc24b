"""Reference figures for the .plexus benchmark: safetensors, torch.save/torch.load and numpy
savez_compressed on the same tensors, written by PlexusFormatBenchmark to the results folder.

    python3 Benchmarks/format_reference.py [results folder]   (default: Benchmarks/results)

Needs numpy, and safetensors and torch for their rows (missing ones are skipped).
"""
import json
import os
import sys
import time

import numpy as np

folder = sys.argv[1] if len(sys.argv) > 1 else "Benchmarks/results"
manifest = json.load(open(os.path.join(folder, "weights.json")))
flat = np.fromfile(os.path.join(folder, "weights.f32"), dtype="<f4")
tensors = {}
offset = 0
for item in manifest:
    count = int(np.prod(item["shape"]))
    tensors[item["name"]] = flat[offset:offset + count].reshape([int(d) for d in item["shape"]]).copy()
    offset += count
raw_bytes = sum(t.nbytes for t in tensors.values())
megabytes = raw_bytes / 1e6
print(f"Reference: {raw_bytes // 4} parameters, {megabytes:.1f} MB as float32")


def best(repeats, body):
    result = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        result = min(result, time.perf_counter() - start)
    return result


rows = []


def report(name, save, load, open_ms, path):
    size = os.path.getsize(path) / raw_bytes
    rows.append({"name": name, "saveMBps": megabytes / save, "loadMBps": megabytes / load,
                 "openMilliseconds": open_ms, "sizeRelative": size})
    open_text = f"{open_ms:6.3f} ms" if open_ms is not None else "     -   "
    print(f"{name:28} save {megabytes / save:7.0f} MB/s  load {megabytes / load:7.0f} MB/s  "
          f"open {open_text}  size {size:.4f}")


try:
    import safetensors.numpy
    from safetensors import safe_open

    path = os.path.join(folder, "bench.safetensors")
    save = best(3, lambda: safetensors.numpy.save_file(tensors, path))

    def load_all():
        loaded = safetensors.numpy.load_file(path)
        for value in loaded.values():
            np.copy(value)

    load = best(3, load_all)

    def lazy_open():
        with safe_open(path, framework="numpy") as handle:
            handle.keys()

    report("safetensors", save, load, best(20, lazy_open) * 1000, path)
    os.remove(path)

    # The file Plexus's own safetensors writer made (PlexusFormatBenchmark), read here too:
    # the same bytes for both readers.
    plexus_path = os.path.join(folder, "bench-plexus.safetensors")
    if os.path.exists(plexus_path):
        def load_plexus_file():
            loaded = safetensors.numpy.load_file(plexus_path)
            for value in loaded.values():
                np.copy(value)

        def lazy_open_plexus_file():
            with safe_open(plexus_path, framework="numpy") as handle:
                handle.keys()

        load = best(3, load_plexus_file)
        open_ms = best(20, lazy_open_plexus_file) * 1000
        rows.append({"name": "safetensors, Plexus's file", "loadMBps": megabytes / load,
                     "openMilliseconds": open_ms})
        print(f"{'safetensors, Plexus file':28} load {megabytes / load:7.0f} MB/s  "
              f"open {open_ms:6.3f} ms")
        os.remove(plexus_path)
except ImportError:
    print("safetensors: not installed, skipped")

try:
    import torch

    torch.set_num_threads(2)
    path = os.path.join(folder, "bench.pt")
    state = {name: torch.from_numpy(value) for name, value in tensors.items()}
    save = best(3, lambda: torch.save(state, path))
    load = best(3, lambda: torch.load(path, weights_only=True))
    report("torch.save / torch.load", save, load, None, path)
    os.remove(path)
except ImportError:
    print("torch: not installed, skipped")

path = os.path.join(folder, "bench.npz")
save = best(1, lambda: np.savez_compressed(path, **tensors))


def load_npz():
    with np.load(path) as archive:
        for name in archive.files:
            archive[name]


load = best(2, load_npz)
report("numpy savez_compressed", save, load, None, path)
os.remove(path)

json.dump(rows, open(os.path.join(folder, "reference.json"), "w"), indent=2)
