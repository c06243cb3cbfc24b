#!/usr/bin/env python3
"""Writes the ONNX import fixtures of Tests/PlexusONNXTests/Fixtures.

Small PyTorch models of each family Plexus imports, exported by both of PyTorch's exporters
(the TorchScript one, `dynamo=False`, and `dynamo=True`, which needs onnxscript), with a dynamic
batch dimension; for each model an input (`NAME.x.npy`, batch 3) and, for each exported file,
the outputs onnxruntime computes from it (`NAME.EXPORTER.y.npy`). One model is also saved with
its weights in an external data file. Run once with a Python that has torch, onnx, onnxscript
and onnxruntime:

    python scripts/generate-onnx-fixtures.py

The files are committed; CI never runs this script.
"""
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/PlexusONNXTests/Fixtures"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(6, 16), nn.Linear(16, 8), nn.Linear(8, 3)

    def forward(self, x):
        return torch.softmax(self.fc3(torch.tanh(self.fc2(torch.relu(self.fc1(x))))), dim=1)


class CNN(nn.Module):
    """Conv, batch norm, max pooling, strided conv, flatten, dense (rows permuted)."""

    def __init__(self, view):
        super().__init__()
        self.view = view
        self.bn = nn.BatchNorm2d(3)  # first, so that no exporter folds it into a convolution
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=(1, 0))
        self.fc = nn.Linear(6 * 2 * 1, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(self.bn(x))))
        x = nn.functional.leaky_relu(self.conv2(x), 0.1)
        # x.view(x.size(0), -1) is the Shape/Gather/Unsqueeze/Concat/Reshape chain.
        x = x.view(x.size(0), -1) if self.view else torch.flatten(x, 1)
        return self.fc(x)


class GlobalPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 5, (3, 2), dilation=(1, 2))
        self.pool = nn.AvgPool2d(2, stride=1)
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        x = self.gmp(self.pool(nn.functional.elu(self.conv(x))))
        return torch.sigmoid(self.fc(torch.flatten(x, 1)))


class Pooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        x = nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2, padding=1, count_include_pad=False)
        return self.fc(torch.flatten(self.gap(x), 1))


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(5, 12), nn.Linear(12, 12), nn.Linear(12, 4)
        self.prelu = nn.PReLU(12)

    def forward(self, x):
        x = nn.functional.gelu(self.fc1(x))
        x = self.prelu(torch.tanh(x) + nn.functional.hardsigmoid(x))
        x = nn.functional.selu(self.fc2(x)) + nn.functional.elu(x, 0.5)
        return nn.functional.log_softmax(self.fc3(x), dim=1)


class Merge(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(12, 3)

    def forward(self, x):
        a = torch.tanh(self.a(x))
        b = torch.sigmoid(self.b(a))
        return self.c(torch.cat([a + b, torch.maximum(a, b) * b], dim=1))


class Transposed(nn.Module):
    """The TorchScript exporter computes ZeroPad2d's pads at run time, so that file has none."""

    def __init__(self, pad=True):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1)) if pad else nn.Identity()
        self.up = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
        self.prelu = nn.PReLU(3)

    def forward(self, x):
        return self.prelu(self.up(self.pad(x)))


class Grouped(nn.Module):
    """MobileNet-style: grouped, depthwise (multiplier 1 and 2) and pointwise convolutions,
    reflection and replication padding (which the TorchScript exporter computes at run time,
    so that file has none)."""

    def __init__(self, pad=True):
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.reflect = nn.ReflectionPad2d((1, 2, 1, 0)) if pad else nn.Identity()
        self.depthwise = nn.Conv2d(6, 12, 3, stride=2, groups=6)
        self.edge = nn.ReplicationPad2d(1) if pad else nn.Identity()
        self.depthwise1 = nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
        self.pointwise = nn.Conv2d(12, 5, 1)
        self.up = nn.ConvTranspose2d(5, 4, 2, stride=2, groups=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.reflect(torch.relu(self.grouped(x)))
        x = self.edge(nn.functional.relu6(self.depthwise(x)))
        x = self.pointwise(self.depthwise1(x))
        x = self.up(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Conv1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 7, 2)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


class EmbeddingModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.fc = nn.Linear(5 * 4, 3)

    def forward(self, ids):
        return self.fc(torch.flatten(self.embedding(ids), 1))


def models():
    """(name, model for an exporter, input, opset); GELU is an operator from opset 20 on."""
    generator = torch.Generator().manual_seed(7)
    yield "mlp", lambda _: MLP(), torch.randn(3, 6, generator=generator), 17
    yield "cnn", lambda _: CNN(view=False), torch.randn(3, 3, 8, 6, generator=generator), 17
    yield "cnn_view", lambda _: CNN(view=True), torch.randn(3, 3, 8, 6, generator=generator), 17
    yield "global_pool", lambda _: GlobalPool(), torch.randn(3, 2, 7, 8, generator=generator), 17
    yield "pooling", lambda _: Pooling(), torch.randn(3, 2, 6, 6, generator=generator), 17
    yield "activations", lambda _: Activations(), torch.randn(3, 5, generator=generator), 20
    yield "merge", lambda _: Merge(), torch.randn(3, 4, generator=generator), 17
    yield "transposed", lambda exporter: Transposed(pad=exporter == "dynamo"), torch.randn(
        3, 2, 4, 3, generator=generator), 17
    yield "conv1d", lambda _: Conv1D(), torch.randn(3, 2, 7, generator=generator), 17
    yield "grouped", lambda exporter: Grouped(pad=exporter == "dynamo"), torch.randn(
        3, 4, 9, 8, generator=generator), 17
    yield "embedding", lambda _: EmbeddingModel(), torch.randint(
        0, 10, (3, 5), generator=generator), 17


def randomize(model):
    """Batch-norm statistics that are not the identity, so the import is tested."""
    generator = torch.Generator().manual_seed(11)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator) * 0.2)
        if isinstance(module, nn.PReLU):
            module.weight.data.copy_(torch.rand(module.weight.shape, generator=generator) * 0.5)


def strip(message):
    """Drops doc strings and metadata (the dynamo exporter records stack traces with the
    paths of this machine in them): the graph is what the fixtures are for."""
    for field, value in message.ListFields():
        if field.name in ("metadata_props", "doc_string"):
            message.ClearField(field.name)
        elif field.type == field.TYPE_MESSAGE:
            repeated = field.is_repeated if hasattr(field, "is_repeated") else (
                field.label == field.LABEL_REPEATED)
            for item in value if repeated else [value]:
                strip(item)


def run(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    for name, make, x, opset in models():
        array = x.numpy()
        np.save(OUT / f"{name}.x.npy", array.astype(np.float32 if array.dtype.kind == "f" else np.int64))
        for exporter in ("torchscript", "dynamo"):
            torch.manual_seed(3)
            model = make(exporter)
            randomize(model)
            model.eval()
            path = OUT / f"{name}.{exporter}.onnx"
            if exporter == "torchscript":
                torch.onnx.export(
                    model, (x,), str(path), dynamo=False, opset_version=opset,
                    input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}},
                )
            else:
                batch = torch.export.Dim("batch", min=1, max=1024)
                program = torch.onnx.export(
                    model, (x,), dynamo=True, dynamic_shapes=({0: batch},),
                    input_names=["x"], output_names=["y"], opset_version=max(opset, 18),
                )
                program.save(str(path))
            exported = onnx.load(str(path))
            strip(exported)
            onnx.save_model(exported, str(path))
            onnx.checker.check_model(onnx.load(str(path)), full_check=True)
            y = run(path, array)
            with torch.no_grad():
                expected = model(x).numpy()
            assert np.allclose(y, expected, atol=1e-5), (name, exporter)
            np.save(OUT / f"{name}.{exporter}.y.npy", y)
            print(f"{path.name}: {path.stat().st_size} bytes", file=sys.stderr)

    # The MLP with its weights in an external file next to the model.
    model = onnx.load(str(OUT / "mlp.torchscript.onnx"))
    onnx.save_model(
        model, str(OUT / "mlp_external.onnx"), save_as_external_data=True,
        all_tensors_to_one_file=True, location="mlp_external.weights", size_threshold=0,
    )
    x = np.load(OUT / "mlp.x.npy")
    np.save(OUT / "mlp_external.y.npy", run(OUT / "mlp_external.onnx", x))


if __name__ == "__main__":
    main()
