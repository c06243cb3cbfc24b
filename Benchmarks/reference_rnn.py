#!/usr/bin/env python3
"""PyTorch and onnxruntime references for the Plexus recurrent benchmarks.

Prints one JSON object per line with the same workload names as PlexusBenchmarks:
  lstm_train_step_batch64   LSTM(128) over [64, 28, 28] random sequences (batch first), the last
                            output into Linear(128, 10), softmax cross-entropy, Adam (lr 1e-3)
  gru_train_step_batch64    the same with GRU(128)
  rnn_train_step_batch64    the same with RNN(128), tanh
  lstm_inference_batch1     the LSTM model's logits for one sequence
Each PyTorch workload is measured with 1 and with 2 intra-op threads; onnxruntime (when
installed, with the onnx exporter) runs the inference workload with 1 and 2 threads.
"""
import io
import json
import warnings

import numpy as np
import torch

from bench_common import emit, measure, parse_arguments, train_step

WORKLOADS = ("lstm_train_step_batch64", "gru_train_step_batch64", "rnn_train_step_batch64",
             "lstm_inference_batch1")


class LastStep(torch.nn.Module):
    """A recurrent layer whose last output goes into a dense head of 10 logits."""

    def __init__(self, kind):
        super().__init__()
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
        self.recurrent = layer(28, 128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        outputs, _ = self.recurrent(x)
        return self.head(outputs[:, -1, :])


def batches(count, size, seed):
    rng = np.random.default_rng(seed)
    return [(torch.from_numpy(rng.standard_normal((size, 28, 28), dtype=np.float32)),
             torch.from_numpy(rng.integers(0, 10, size)))
            for _ in range(count)]


def torch_workloads(threads, seconds, only):
    torch.set_num_threads(threads)
    impl = f"pytorch-{threads}t"
    torch.manual_seed(0)
    for kind in ("lstm", "gru", "rnn"):
        name = f"{kind}_train_step_batch64"
        if only is None or name in only:
            step = train_step(LastStep(kind), batches(4, 64, 20))
            median, calls = measure(step, seconds, inner=3)
            emit(name, impl, median, calls, steps_per_s=1 / median)
    if only is None or "lstm_inference_batch1" in only:
        model = LastStep("lstm").eval()
        x = batches(1, 1, 5)[0][0]
        with torch.inference_mode():
            median, calls = measure(lambda: model(x), seconds, inner=20)
        emit("lstm_inference_batch1", impl, median, calls)


def onnxruntime_workloads(seconds, only):
    if only is not None and "lstm_inference_batch1" not in only:
        return
    try:
        import onnxruntime as ort
    except ImportError:
        return
    model = LastStep("lstm").eval()
    buffer = io.BytesIO()
    warnings.simplefilter("ignore")
    try:
        torch.onnx.export(
            model, torch.zeros(1, 28, 28), buffer, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
            dynamo=False)
    except Exception as error:  # the exporter needs the onnx package
        print(json.dumps({"note": f"onnx export failed: {error}"}), flush=True)
        return
    x = {"input": batches(1, 1, 5)[0][0].numpy()}
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        median, calls = measure(lambda: session.run(None, x), seconds, inner=20)
        emit("lstm_inference_batch1", f"onnxruntime-{threads}t", median, calls)


def main():
    seconds, only = parse_arguments(__doc__)
    if only is not None and not only & set(WORKLOADS):
        return
    for threads in (1, 2):
        torch_workloads(threads, seconds, only)
    onnxruntime_workloads(seconds, only)


if __name__ == "__main__":
    main()
