#!/usr/bin/env python3
"""Writes the NumPy and PyTorch fixtures of Tests/PlexusInteropTests/Fixtures with the real
libraries, and the values they hold as JSON.

- arrays.npz / arrays-compressed.npz (np.savez / np.savez_compressed): every dtype Plexus
  reads, a big-endian and a Fortran-order array, a version 3.0 member, a non-ASCII name;
  arrays.json holds their values.
- tensors.pt (torch.save of an OrderedDict): every dtype torch writes, non-contiguous views,
  views sharing one storage, a scalar, an empty tensor; tensors-bigendian.pt is the same archive
  with byteorder 'big' and every storage byte-swapped; checkpoint.pt nests a state dict with
  plain values; tensors.json holds the values.
- legacy.pt (the pre-1.6 format), script.pt (torch.jit.save) and evil.pt (a pickle that calls
  os.system) are files Plexus must refuse.
- Models: mlp, cnn, lstm (two layers), gru and rnn (with an embedding), each as NAME.pt
  (state_dict), NAME.spec.json (the equivalent Plexus architecture), NAME-input.npy and
  NAME-output.npy (torch's outputs in eval mode; image inputs in torch's NCHW layout).
  mlp.safetensors and cnn.npz hold the same state dicts in those formats, and
  cnn.mapping.json maps its tensor names to Plexus paths.
- grouped (Conv2d with groups=2, a depthwise Conv2d with groups=C and two filters per channel,
  a grouped ConvTranspose2d) and birnn (bidirectional LSTM and GRU, tensors *_reverse), in the
  same form.

Run once with a Python that has torch and numpy; commit the small outputs:
  python scripts/generate-pytorch-fixtures.py [PART ...]
with PART among numpy, pytorch, models and grouped (the grouped and birnn models); all by
default. Each part draws from its own seed, so one part can be made again alone.
"""
import collections
import io
import json
import os
import pathlib
import pickle
import sys
import zipfile

import numpy as np
import torch
from numpy.lib import format as npy_format
from safetensors.torch import save_file
from torch import nn

FOLDER = pathlib.Path(__file__).resolve().parent.parent / "Tests/PlexusInteropTests/Fixtures"


def values(array):
    return {"shape": list(array.shape), "values": np.asarray(array, dtype=np.float64).flatten().tolist()}


def write_json(name, content):
    (FOLDER / name).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")


def numpy_archives():
    arrays = {
        "float32": np.array([[1.5, -2.25, 0.003], [0.0, 1e30, -7.0]], dtype="<f4"),
        "float64": np.array([0.1, -1e-10, 123456789.125], dtype="<f8"),
        "float16": np.array([1.5, -2.0, 65504.0], dtype="<f2"),
        "int64": np.array([2**40, -5, 0], dtype="<i8"),
        "int32": np.array([[-7, 8]], dtype="<i4"),
        "int16": np.array([-32768, 32767], dtype="<i2"),
        "int8": np.array([-128, 5], dtype="|i1"),
        "uint8": np.array([0, 255], dtype="|u1"),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "big_endian": np.array([[1.0, -2.0], [3.5, 4.25]], dtype=">f4"),
        "big_endian_int": np.array([1, -300000], dtype=">i8"),
        "fortran": np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)),
        "schön": np.array([1.0, 2.0], dtype="<f4"),
    }
    np.savez(FOLDER / "arrays.npz", **arrays)
    np.savez_compressed(FOLDER / "arrays-compressed.npz", **arrays)
    # A version 3.0 member, added the way numpy writes members.
    version3 = np.arange(6, dtype="<f4").reshape(2, 3)
    for name in ["arrays.npz", "arrays-compressed.npz"]:
        method = zipfile.ZIP_STORED if name == "arrays.npz" else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(FOLDER / name, "a", compression=method) as archive:
            with archive.open("version3.npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, version3, version=(3, 0))
    arrays["version3"] = version3
    write_json("arrays.json", {name: values(array) for name, array in arrays.items()})


def swapped_archive(source, target):
    """Copies a torch.save archive with byteorder 'big' and every storage byte-swapped."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        pickled = original.read(next(n for n in original.namelist() if n.endswith("data.pkl")))
        element_sizes = storage_element_sizes(pickled)
        for info in original.infolist():
            data = original.read(info.filename)
            parts = info.filename.split("/")
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif len(parts) == 3 and parts[1] == "data":
                size = element_sizes[parts[2]]
                data = b"".join(data[i : i + size][::-1] for i in range(0, len(data), size))
            copy.writestr(info.filename, data)


def storage_element_sizes(pickled):
    """The element size of each storage key named in a data.pkl."""
    sizes = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if name.endswith("Storage"):
                return name
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            return lambda *args: None

        def persistent_load(self, pid):
            _, kind, key, _, _ = pid
            sizes[key] = {
                "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
                "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1,
                "ByteStorage": 1, "BoolStorage": 1,
            }[kind]
            return None

    Reader(io.BytesIO(pickled)).load()
    return sizes


def pytorch_files():
    torch.manual_seed(0)
    base = torch.arange(24, dtype=torch.float32) / 4
    tensors = collections.OrderedDict()
    tensors["float32"] = torch.tensor([[0.5, -1.25, 2.0], [3.0, 0.0, -0.75]])
    tensors["float16"] = torch.tensor([1.5, -2.0, 0.099975586, 65504.0], dtype=torch.float16)
    tensors["bfloat16"] = torch.tensor([[1.0, -3.5], [0.0078125, 256.0]], dtype=torch.bfloat16)
    tensors["float64"] = torch.tensor([0.1, -1e-10], dtype=torch.float64)
    tensors["int64"] = torch.tensor([1, -7, 123456], dtype=torch.int64)
    tensors["int32"] = torch.tensor([-5, 6], dtype=torch.int32)
    tensors["int16"] = torch.tensor([-300, 300], dtype=torch.int16)
    tensors["int8"] = torch.tensor([-128, 127], dtype=torch.int8)
    tensors["uint8"] = torch.tensor([3, 250], dtype=torch.uint8)
    tensors["bool"] = torch.tensor([True, False])
    tensors["scalar"] = torch.tensor(2.5)
    tensors["empty"] = torch.zeros((0, 3))
    # Views: a transpose (non-contiguous), a slice with an offset and a strided column, all of
    # one storage.
    tensors["transposed"] = base[:12].view(3, 4).t()
    tensors["slice"] = base[5:9]
    tensors["column"] = base.view(4, 6)[:, 1]
    tensors["expanded"] = torch.tensor([1.0, 2.0]).unsqueeze(0).expand(3, 2)
    torch.save(tensors, FOLDER / "tensors.pt")
    swapped_archive(FOLDER / "tensors.pt", FOLDER / "tensors-bigendian.pt")
    write_json(
        "tensors.json",
        {name: values(t.to(torch.float64).numpy()) for name, t in tensors.items()},
    )
    checkpoint = {
        "epoch": 5,
        "learning_rate": 0.001,
        "note": "fixture",
        "finished": True,
        "best": None,
        "model": collections.OrderedDict(
            [("fc.weight", torch.ones(2, 3)), ("fc.bias", torch.zeros(2))]),
        "history": [torch.tensor([0.5, 0.25]), 3],
    }
    torch.save(checkpoint, FOLDER / "checkpoint.pt")
    torch.save(
        {"w": torch.ones(2)}, FOLDER / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(nn.Linear(2, 1)), FOLDER / "script.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo this must never run",))

    buffer = io.BytesIO()
    pickle.Pickler(buffer, protocol=2).dump(collections.OrderedDict([("w", Evil())]))
    with zipfile.ZipFile(FOLDER / "evil.pt", "w") as archive:
        archive.writestr("evil/data.pkl", buffer.getvalue())
        archive.writestr("evil/byteorder", "little")
        archive.writestr("evil/version", "3\n")


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


class Recurrent(nn.Module):
    def __init__(self, cell, features, units, outputs, **options):
        super().__init__()
        self.rnn = cell(features, units, batch_first=True, **options)
        self.fc = nn.Linear(units, outputs)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.fc(output[:, -1])


class Embedded(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.rnn = nn.RNN(6, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, ids):
        output, _ = self.rnn(self.embed(ids))
        return self.head(output[:, -1])


class Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.depthwise = nn.Conv2d(6, 12, 3, stride=2, padding=1, groups=6)
        self.up = nn.ConvTranspose2d(12, 4, 2, stride=2, groups=2)
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        x = torch.relu(self.grouped(x))
        x = torch.relu(self.depthwise(x))
        x = torch.tanh(self.up(x))
        return self.fc(torch.flatten(x, 1))


class BiRecurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(12, 5, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        x, _ = self.lstm(x)
        _, state = self.gru(x)
        # The last state of each direction: forward after step T, reverse after step 1.
        return self.fc(torch.cat([state[0], state[1]], dim=1))


def spec(name, input_shape, layers):
    return {
        "name": name,
        "inputShape": input_shape,
        "layers": layers,
        "loss": "mse",
        "optimizer": "adam",
        "data": {"source": "npy", "features": f"{name}-input.npy", "labels": f"{name}-output.npy"},
    }


def dense(units, activation=None):
    config = {"units": units}
    if activation:
        config["activation"] = activation
    return {"type": "plexus.dense", "config": config}


def build(name):
    """The torch module of a model fixture (random weights; the fixture's come from a seed)."""
    if name == "mlp":
        return nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 10))
    if name == "cnn":
        return CNN()
    if name == "lstm":
        return Recurrent(nn.LSTM, 4, 12, 5, num_layers=2)
    if name == "gru":
        return Recurrent(nn.GRU, 4, 10, 3)
    if name == "rnn":
        return Embedded()
    if name == "grouped":
        return Grouped()
    if name == "birnn":
        return BiRecurrent()
    raise ValueError(name)


def models():
    torch.manual_seed(1)
    cases = []

    mlp = build("mlp")
    cases.append(("mlp", mlp, torch.randn(5, 64),
                  spec("mlp", [64], [dense(32, "relu"), dense(16, "tanh"), dense(10)])))

    cnn = build("cnn")
    with torch.no_grad():
        cnn.bn1.running_mean.copy_(torch.randn(4) * 0.1)
        cnn.bn1.running_var.copy_(torch.rand(4) + 0.5)
        cnn.bn1.weight.copy_(torch.rand(4) + 0.5)
        cnn.bn1.bias.copy_(torch.randn(4) * 0.1)
        cnn.bn1.num_batches_tracked.fill_(7)
    cases.append(("cnn", cnn, torch.randn(4, 1, 8, 8), spec("cnn", [8, 8, 1], [
        {"type": "plexus.conv2d", "config": {"filters": 4, "kernelSize": [3, 3], "padding": "same"}},
        {"type": "plexus.batch_normalization", "config": {"epsilon": 1e-5, "momentum": 0.9}},
        {"type": "plexus.activation", "config": {"activation": "relu"}},
        {"type": "plexus.max_pool2d", "config": {"poolSize": [2, 2]}},
        {"type": "plexus.conv2d", "config": {"filters": 6, "kernelSize": [3, 3], "activation": "relu"}},
        {"type": "plexus.flatten"},
        dense(10),
    ])))

    lstm = build("lstm")
    cases.append(("lstm", lstm, torch.randn(3, 6, 4), spec("lstm", [6, 4], [
        {"type": "plexus.lstm", "config": {"units": 12, "returnSequences": True}},
        {"type": "plexus.lstm", "config": {"units": 12}},
        dense(5),
    ])))

    gru = build("gru")
    cases.append(("gru", gru, torch.randn(3, 7, 4), spec("gru", [7, 4], [
        {"type": "plexus.gru", "config": {"units": 10}},
        dense(3),
    ])))

    rnn = build("rnn")
    cases.append(("rnn", rnn, torch.randint(0, 20, (4, 5)), spec("rnn", [5], [
        {"type": "plexus.embedding", "config": {"inputDim": 20, "outputDim": 6}},
        {"type": "plexus.simple_rnn", "config": {"units": 8}},
        dense(2),
    ])))

    save_models(cases)


def grouped_models():
    torch.manual_seed(2)
    cases = []
    grouped = build("grouped")
    cases.append(("grouped", grouped, torch.randn(3, 4, 8, 8), spec("grouped", [8, 8, 4], [
        {"type": "plexus.conv2d", "config": {
            "filters": 6, "kernelSize": [3, 3], "padding": "same", "groups": 2,
            "activation": "relu"}},
        {"type": "plexus.depthwise_conv2d", "config": {
            "kernelSize": [3, 3], "strides": [2, 2], "depthMultiplier": 2, "activation": "relu",
            "padding": {"top": 1, "bottom": 1, "left": 1, "right": 1}}},
        {"type": "plexus.conv2d_transpose", "config": {
            "filters": 4, "kernelSize": [2, 2], "strides": [2, 2], "groups": 2,
            "activation": "tanh"}},
        {"type": "plexus.flatten"},
        dense(3),
    ])))
    birnn = build("birnn")
    cases.append(("birnn", birnn, torch.randn(3, 5, 4), spec("birnn", [5, 4], [
        {"type": "plexus.bidirectional", "config": {
            "layer": {"type": "plexus.lstm", "name": "lstm", "config": {
                "units": 6, "returnSequences": True}}}},
        {"type": "plexus.bidirectional", "config": {
            "layer": {"type": "plexus.gru", "name": "gru", "config": {"units": 5}}}},
        dense(3),
    ])))
    save_models(cases)


def save_models(cases):
    for name, model, inputs, architecture in cases:
        model.eval()
        with torch.no_grad():
            outputs = model(inputs)
        state = model.state_dict()
        torch.save(state, FOLDER / f"{name}.pt")
        np.save(FOLDER / f"{name}-input.npy", inputs.numpy().astype(np.float32))
        np.save(FOLDER / f"{name}-output.npy", outputs.numpy().astype(np.float32))
        write_json(f"{name}.spec.json", architecture)
        if name == "mlp":
            save_file({k: v.contiguous() for k, v in state.items()}, FOLDER / "mlp.safetensors")
        if name == "cnn":
            np.savez(FOLDER / "cnn.npz", **{k: v.numpy() for k, v in state.items()})
            write_json("cnn.mapping.json", {
                "conv1.weight": "conv2d_1.kernel", "conv1.bias": "conv2d_1.bias",
                "bn1.weight": "batch_normalization_1.gamma",
                "bn1.bias": "batch_normalization_1.beta",
                "bn1.running_mean": "batch_normalization_1.moving_mean",
                "bn1.running_var": "batch_normalization_1.moving_variance",
                "bn1.num_batches_tracked": None,
                "conv2.weight": "conv2d_2", "conv2.bias": "conv2d_2",
                "fc.weight": "dense_1.kernel", "fc.bias": "dense_1.bias",
            })


def main():
    FOLDER.mkdir(parents=True, exist_ok=True)
    parts = {
        "numpy": numpy_archives, "pytorch": pytorch_files, "models": models,
        "grouped": grouped_models,
    }
    chosen = sys.argv[1:] or list(parts)
    for part in chosen:
        if part not in parts:
            raise SystemExit(f"unknown part {part!r}; parts: {', '.join(parts)}")
        parts[part]()


if __name__ == "__main__":
    main()
