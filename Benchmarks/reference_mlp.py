#!/usr/bin/env python3
"""PyTorch and onnxruntime references for the Plexus MLP benchmarks.

Prints one JSON object per line with the same workload names as PlexusBenchmarks:
  mlp_train_step_batch32       MLP 64-128-64-10 ReLU, softmax cross-entropy, Adam, batch 32
  mlp_inference_batch1         the same MLP, one sample, inference
  dense_forward_256x1024x1024  one Linear(1024, 1024) layer on a batch of 256
Each PyTorch workload is measured with 1 and with 2 intra-op threads.
"""

import numpy as np
import torch

from bench_common import emit, measure, parse_arguments, train_step


def digits():
    try:
        from sklearn.datasets import load_digits

        data = load_digits()
        return data.data.astype(np.float32) / 16.0, data.target.astype(np.int64)
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.random((1797, 64), dtype=np.float32), rng.integers(0, 10, 1797)


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10))


def torch_workloads(threads, seconds, only):
    torch.set_num_threads(threads)
    impl = f"pytorch-{threads}t"
    torch.manual_seed(0)
    x, y = digits()
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    if only is None or "mlp_train_step_batch32" in only:
        batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x) - 31, 32)]
        step = train_step(mlp(), batches)
        median, calls = measure(step, seconds, inner=10)
        emit("mlp_train_step_batch32", impl, median, calls)

    if only is None or "mlp_inference_batch1" in only:
        model = mlp().eval()
        sample = x[:1].clone()
        with torch.inference_mode():
            median, calls = measure(lambda: model(sample), seconds, inner=100)
        emit("mlp_inference_batch1", impl, median, calls)

    if only is None or "dense_forward_256x1024x1024" in only:
        layer = torch.nn.Linear(1024, 1024).eval()
        batch = torch.randn(256, 1024)
        with torch.inference_mode():
            median, calls = measure(lambda: layer(batch), seconds)
        emit("dense_forward_256x1024x1024", impl, median, calls,
             gflops=2 * 256 * 1024 * 1024 / median / 1e9)


def onnxruntime_workloads(seconds, only):
    if only is not None and "mlp_inference_batch1" not in only:
        return
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return
    rng = np.random.default_rng(0)
    sizes = [64, 128, 64, 10]
    nodes, initializers = [], []
    current = "input"
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = rng.standard_normal((fan_in, fan_out)).astype(np.float32) * 0.1
        b = np.zeros(fan_out, dtype=np.float32)
        initializers += [numpy_helper.from_array(w, f"w{index}"), numpy_helper.from_array(b, f"b{index}")]
        nodes.append(helper.make_node("Gemm", [current, f"w{index}", f"b{index}"], [f"z{index}"]))
        current = f"z{index}"
        if index < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [current], [f"a{index}"]))
            current = f"a{index}"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    sample = {"input": rng.random((1, 64), dtype=np.float32)}
    median, calls = measure(lambda: session.run(None, sample), seconds, inner=100)
    emit("mlp_inference_batch1", "onnxruntime-1t", median, calls)


def main():
    seconds, only = parse_arguments(__doc__)
    for threads in (1, 2):
        torch_workloads(threads, seconds, only)
    onnxruntime_workloads(seconds, only)


if __name__ == "__main__":
    main()
