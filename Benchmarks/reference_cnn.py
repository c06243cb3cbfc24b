#!/usr/bin/env python3
"""PyTorch and onnxruntime references for the Plexus convolution benchmarks.

Prints one JSON object per line with the same workload names as PlexusBenchmarks:
  lenet_train_step_batch64   LeNet-5-like on 28x28x1 (conv5x5x6 ReLU, maxpool 2, conv5x5x16
                             ReLU, maxpool 2, dense 120 ReLU, dense 84 ReLU, dense 10),
                             softmax cross-entropy, Adam (lr 1e-3), batch 64
  lenet_inference_batch64    the same network, inference, batch 64
  lenet_inference_batch1     the same network, inference, one image
Each PyTorch workload is measured with 1 and with 2 intra-op threads; onnxruntime (when
installed) runs the inference workloads with 1 and 2 threads.
"""
import io
import json
import warnings

import numpy as np
import torch

from bench_common import emit, measure, parse_arguments, train_step

WORKLOADS = ("lenet_train_step_batch64", "lenet_inference_batch64", "lenet_inference_batch1")


def lenet():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(256, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


def batches(count, size, seed):
    rng = np.random.default_rng(seed)
    return [(torch.from_numpy(rng.random((size, 1, 28, 28), dtype=np.float32)),
             torch.from_numpy(rng.integers(0, 10, size)))
            for _ in range(count)]


def torch_workloads(threads, seconds, only):
    torch.set_num_threads(threads)
    impl = f"pytorch-{threads}t"
    torch.manual_seed(0)

    if only is None or "lenet_train_step_batch64" in only:
        step = train_step(lenet(), batches(8, 64, 10))
        median, calls = measure(step, seconds, inner=5)
        emit("lenet_train_step_batch64", impl, median, calls, steps_per_s=1 / median)

    model = lenet().eval()
    if only is None or "lenet_inference_batch64" in only:
        x = batches(1, 64, 3)[0][0]
        with torch.inference_mode():
            median, calls = measure(lambda: model(x), seconds, inner=10)
        emit("lenet_inference_batch64", impl, median, calls, images_per_s=64 / median)

    if only is None or "lenet_inference_batch1" in only:
        x = batches(1, 1, 4)[0][0]
        with torch.inference_mode():
            median, calls = measure(lambda: model(x), seconds, inner=100)
        emit("lenet_inference_batch1", impl, median, calls)


def onnxruntime_workloads(seconds, only):
    wanted = [name for name in WORKLOADS[1:] if only is None or name in only]
    if not wanted:
        return
    try:
        import onnxruntime as ort
    except ImportError:
        return
    model = lenet().eval()
    buffer = io.BytesIO()
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        torch.onnx.export(
            model, torch.zeros(1, 1, 28, 28), buffer, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    except Exception as error:  # the exporter needs the onnx package
        print(json.dumps({"note": f"onnx export failed: {error}"}), flush=True)
        return
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        impl = f"onnxruntime-{threads}t"
        if "lenet_inference_batch64" in wanted:
            x = {"input": batches(1, 64, 3)[0][0].numpy()}
            median, calls = measure(lambda: session.run(None, x), seconds, inner=10)
            emit("lenet_inference_batch64", impl, median, calls, images_per_s=64 / median)
        if "lenet_inference_batch1" in wanted:
            x = {"input": batches(1, 1, 4)[0][0].numpy()}
            median, calls = measure(lambda: session.run(None, x), seconds, inner=100)
            emit("lenet_inference_batch1", impl, median, calls)


def main():
    seconds, only = parse_arguments(__doc__)
    if only is not None and not only & set(WORKLOADS):
        return
    for threads in (1, 2):
        torch_workloads(threads, seconds, only)
    onnxruntime_workloads(seconds, only)


if __name__ == "__main__":
    main()
