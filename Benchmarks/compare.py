#!/usr/bin/env python3
"""Reads benchmark JSON lines (Plexus and references) and prints time ratios.

A ratio is Plexus time / reference time: below 1 means Plexus is faster. For PyTorch the
faster of its 1- and 2-thread settings is the reference, as well as each setting alone.
"""
import json
import sys


def main():
    records = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
    by_name = {}
    for record in records:
        by_name.setdefault(record["name"], {})[record["impl"]] = record["median_ms"]
    print(f"{'workload':34} {'implementation':18} {'median':>12} {'Plexus/ref':>11}")
    for name, impls in by_name.items():
        plexus = impls.get("plexus")
        torch = [value for key, value in impls.items() if key.startswith("pytorch")]
        rows = sorted(impls.items(), key=lambda item: (item[0] != "plexus", item[0]))
        if torch:
            rows.append(("pytorch-best", min(torch)))
        for impl, value in rows:
            ratio = "" if plexus is None or impl == "plexus" else f"{plexus / value:.3f}"
            print(f"{name:34} {impl:18} {value * 1000:9.1f} us {ratio:>11}")
    sgemm = by_name.get("sgemm_256x1024x1024", {}).get("plexus")
    dense = by_name.get("dense_forward_256x1024x1024", {}).get("plexus")
    if sgemm and dense:
        print(f"\nDense forward / raw cblas_sgemm (same shape): {dense / sgemm:.3f}")


if __name__ == "__main__":
    main()
