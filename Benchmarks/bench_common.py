"""Helpers shared by the reference_*.py benchmark scripts (this module is not run itself)."""
import argparse
import json
import time

import torch


def measure(body, seconds, inner=1, warmup=3):
    """Median seconds per call of `body` over rounds of `inner` calls, and the calls made."""
    for _ in range(warmup):
        body()
    rounds = []
    deadline = time.perf_counter() + seconds
    calls = 0
    while time.perf_counter() < deadline or len(rounds) < 5:
        start = time.perf_counter()
        for _ in range(inner):
            body()
        rounds.append((time.perf_counter() - start) / inner)
        calls += inner
    rounds.sort()
    return rounds[len(rounds) // 2], calls


def emit(name, impl, median, calls, **extra):
    """Prints one result as a JSON line, as PlexusBenchmarks does."""
    record = {"name": name, "median_ms": median * 1000, "iterations": calls, "impl": impl}
    record.update(extra)
    print(json.dumps(record), flush=True)


def train_step(model, batches):
    """A function taking one Adam (lr 1e-3) step with softmax cross-entropy on the next batch
    of `batches` (a list of (inputs, labels), used in turn)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def parse_arguments(description):
    """The --seconds per workload and the --only set of workload names (None for all)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--only", default=None, help="comma-separated workload names")
    args = parser.parse_args()
    return args.seconds, set(args.only.split(",")) if args.only else None
