#!/usr/bin/env python3
"""scikit-learn reference for the Plexus RBM benchmark.

Prints one JSON object per line with the workload name of PlexusBenchmarks:
  rbm_cd1_epoch_digits   one epoch of CD-1 for BernoulliRBM(n_components=100,
                         learning_rate=0.1, batch_size=10, n_iter=1) on the 1437 training
                         images' worth of the 8x8 digits (the first 1437, features scaled
                         to [0, 1]; Plexus times its own shuffled 1437-image training split)
scikit-learn runs on one thread here (its RBM is NumPy matrix products on small batches);
the BLAS thread count is pinned to 1 through the environment before NumPy loads.
"""
import json
import os
import sys
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse

WORKLOAD = "rbm_cd1_epoch_digits"


def measure(body, seconds, warmup=3):
    for _ in range(warmup):
        body()
    rounds = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rounds) < 5:
        start = time.perf_counter()
        body()
        rounds.append(time.perf_counter() - start)
    rounds.sort()
    return rounds[len(rounds) // 2], len(rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    if args.only is not None and WORKLOAD not in args.only.split(","):
        return
    try:
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.neural_network import BernoulliRBM
    except ImportError as error:
        print(f"reference_rbm.py: skipped ({error})", file=sys.stderr)
        return
    x = load_digits().data.astype(np.float64)[:1437] / 16.0

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BernoulliRBM(n_components=100, learning_rate=0.1, batch_size=10, n_iter=1,
                         random_state=1).fit(x)

    median, calls = measure(epoch, args.seconds)
    record = {"name": WORKLOAD, "median_ms": median * 1000, "iterations": calls,
              "impl": "sklearn", "samples_per_s": 1437 / median}
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
