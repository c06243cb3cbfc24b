#!/usr/bin/env python3
"""Writes the Keras fixtures of Tests/PlexusInteropTests/Fixtures/keras.

Run once, in a venv with keras, h5py, numpy and a Keras backend (torch here):

    python3 -m venv venv && venv/bin/pip install keras h5py numpy torch
    KERAS_BACKEND=torch venv/bin/python scripts/generate-keras-fixtures.py [PART ...]

PART is `base` (the families below, the hostile file and the Keras 2 layout) or `mobile`
(`separable`: Conv2D with groups, DepthwiseConv2D, SeparableConv2D and ZeroPadding2D, also in
tf.keras 2's layout as `separable-keras2.h5`;
`dropout_rnn`: a grouped Conv1D, then LSTM, GRU and SimpleRNN with dropout and
recurrent_dropout); all by default.
Each part draws from its own seeds, so one can be made again alone.

For each small model of a family (an MLP, a CNN, an LSTM, a GRU with a bidirectional layer, a
SimpleRNN over embeddings, a functional model with merges and a shared layer) it writes:

- `<name>.keras`       Keras 3's own file (model.save),
- `<name>.h5`          the legacy HDF5 model file Keras 3 still writes (model.save('x.h5')),
- `<name>.input.npy`   a batch of inputs (float32),
- `<name>.output.npy`  Keras's predictions for it (float32).

`hostile.h5` holds HDF5 objects a reader must refuse (soft and external links, strings, a
compound, an lzf-compressed dataset, one with external storage, a compressed dataset that
stores nothing) and two it must convert (float16, int64).

It also writes `mlp.weights.h5` (model.save_weights) and `mlp-keras2.h5`: the MLP in the
layout of a tf.keras 2.x `model.save('x.h5')` (a `model_config` in Keras 2's dialect, with
`batch_input_shape` and list-form inbound nodes, `layer_names` and `weight_names` as
fixed-length byte strings, weights under `<layer>/<layer>/kernel:0`). TensorFlow is not
installed to produce it: the file is assembled with h5py from the Keras 3 model, following
the layout tf.keras 2 writes.

Batch normalization's moving statistics are set to random values so that they matter.
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/PlexusInteropTests/Fixtures/keras"
rng = np.random.default_rng(7)


def randomize_batch_norm(model):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.normal(0, 0.3, beta.shape).astype("float32"),
                    rng.normal(0, 0.5, mean.shape).astype("float32"),
                    rng.uniform(0.5, 2.0, var.shape).astype("float32"),
                ]
            )


def save(name, model, inputs):
    randomize_batch_norm(model)
    outputs = model.predict(inputs, verbose=0)
    model.save(OUT / f"{name}.keras")
    model.save(OUT / f"{name}.h5")
    np.save(OUT / f"{name}.input.npy", inputs.astype("float32"))
    np.save(OUT / f"{name}.output.npy", np.asarray(outputs, dtype="float32"))
    return model


def mlp():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(8, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.3),
            layers.Dense(5, activation="tanh", kernel_regularizer=keras.regularizers.L2(1e-3)),
            layers.Dense(3, activation="softmax"),
        ],
        name="mlp",
    )
    return save("mlp", model, rng.normal(size=(4, 6)))


def cnn():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Conv2D(3, 2, strides=1, padding="valid"),
            layers.AveragePooling2D(pool_size=2, strides=1, padding="same"),
            layers.Flatten(),
            layers.Dense(4),
            layers.Activation("sigmoid"),
        ],
        name="cnn",
    )
    return save("cnn", model, rng.normal(size=(3, 8, 8, 2)))


def lstm():
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.LSTM(4, return_sequences=True),
            layers.LSTM(3),
            layers.Dense(2),
        ],
        name="lstm",
    )
    return save("lstm", model, rng.normal(size=(4, 5, 3)))


def gru():
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            layers.GRU(4, return_sequences=True, reset_after=False),
            layers.Bidirectional(layers.GRU(3), merge_mode="concat"),
            layers.Dense(2),
        ],
        name="gru",
    )
    return save("gru", model, rng.normal(size=(4, 6, 3)))


def embedding_rnn():
    model = keras.Sequential(
        [
            keras.Input((7,)),
            layers.Embedding(12, 4, mask_zero=True),
            layers.SimpleRNN(5),
            layers.Dense(2),
        ],
        name="embedding_rnn",
    )
    ids = rng.integers(1, 12, size=(4, 7))
    ids[0, 5:] = 0  # padding at the end of the first sequence
    ids[2, 3:] = 0
    return save("embedding_rnn", model, ids.astype("float32"))


def functional():
    inputs = keras.Input((6,), name="features")
    shared = layers.Dense(5, activation="relu", name="shared")
    a = shared(inputs)
    b = layers.Dense(5, activation="elu", name="branch")(inputs)
    c = shared(layers.Dense(6, name="project")(b))
    merged = layers.Add(name="sum")([a, c])
    joined = layers.Concatenate(name="join")([merged, b])
    outputs = layers.Dense(3, name="head")(layers.LeakyReLU(negative_slope=0.1)(joined))
    model = keras.Model(inputs, outputs, name="merge")
    return save("functional", model, rng.normal(size=(4, 6)))


def separable():
    model = keras.Sequential(
        [
            keras.Input((9, 9, 4)),
            layers.ZeroPadding2D(((1, 0), (0, 2))),
            layers.Conv2D(6, 3, groups=2, activation="relu"),
            layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same",
                                   activation="relu"),
            layers.SeparableConv2D(5, (2, 3), depth_multiplier=2, activation="tanh"),
            layers.DepthwiseConv2D(2, use_bias=False),
            layers.SeparableConv2D(4, 1, dilation_rate=1, use_bias=False),
            layers.Flatten(),
            layers.Dense(3),
        ],
        name="separable",
    )
    # Non-zero biases, so that they matter.
    for layer in model.layers:
        if getattr(layer, "use_bias", False):
            weights = layer.get_weights()
            weights[-1] = mobile_rng.normal(0, 0.5, weights[-1].shape).astype("float32")
            layer.set_weights(weights)
    return save("separable", model, mobile_rng.normal(size=(3, 9, 9, 4)))


def dropout_rnn():
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            layers.Conv1D(6, 2, groups=3, padding="causal", activation="tanh"),
            layers.LSTM(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.3, seed=5),
            layers.GRU(4, return_sequences=True, recurrent_dropout=0.25),
            layers.SimpleRNN(3, dropout=0.1),
            layers.Dense(2),
        ],
        name="dropout_rnn",
    )
    return save("dropout_rnn", model, mobile_rng.normal(size=(4, 6, 3)))


def keras2_layout(model, path):
    """Writes `model` in the layout of a tf.keras 2.x HDF5 model file."""
    config_layers = []
    for index, layer in enumerate(model.layers):
        config = {k: v for k, v in layer.get_config().items() if k != "dtype"}
        config["dtype"] = "float32"
        for key in ("quantization_config", "lora_rank", "lora_alpha"):
            config.pop(key, None)
        for key, value in list(config.items()):
            if isinstance(value, dict) and "module" in value:
                config[key] = {"class_name": value["class_name"], "config": value["config"]}
        if isinstance(layer, layers.Dense):
            config["activity_regularizer"] = None
        if index == 0:
            config["batch_input_shape"] = [None] + list(model.input_shape[1:])
        config_layers.append({"class_name": layer.__class__.__name__, "config": config})
    model_config = {
        "class_name": "Sequential",
        "config": {"name": model.name, "layers": config_layers},
    }
    fixed = lambda names: np.array([n.encode() for n in names], dtype=f"S{max(map(len, names), default=1)}")
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = b"2.13.1"
        h5.attrs["backend"] = b"tensorflow"
        h5.attrs["model_config"] = json.dumps(model_config).encode()
        group = h5.create_group("model_weights")
        group.attrs["keras_version"] = b"2.13.1"
        group.attrs["backend"] = b"tensorflow"
        group.attrs["layer_names"] = fixed([layer.name for layer in model.layers])
        for layer in model.layers:
            layer_group = group.create_group(layer.name)
            names = []
            for variable in layer.weights:
                # tf.keras 2 called a DepthwiseConv2D's kernel depthwise_kernel.
                name = variable.name
                if isinstance(layer, layers.DepthwiseConv2D) and name == "kernel":
                    name = "depthwise_kernel"
                names.append(f"{layer.name}/{name}:0")
                layer_group.create_dataset(names[-1], data=np.asarray(variable.numpy()))
            layer_group.attrs["weight_names"] = fixed(names) if names else np.array([], "S1")


def hostile():
    """HDF5 objects a reader must refuse, and two it must convert (float16, int64)."""
    with h5py.File(OUT / "hostile.h5", "w") as h5:
        h5["data"] = np.arange(6, dtype="float32").reshape(2, 3)
        h5["soft"] = h5py.SoftLink("/data")
        h5["external"] = h5py.ExternalLink("other.h5", "/data")
        h5.create_dataset("text", data=np.array([b"abc", b"de"]))
        h5.create_dataset("compound", data=np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]))
        # Declares 2^24 values, compressed, and stores none.
        h5.create_dataset("bomb", shape=(4096, 4096), dtype="float32", compression="gzip")
        h5.create_dataset("lzf", data=np.ones(64, "float32"), compression="lzf")
        h5.create_dataset("outside", shape=(4,), dtype="float32", external=[("data.bin", 0, 16)])
        h5.create_dataset("half", data=np.array([1.5, -2], dtype="float16"))
        h5.create_dataset("ints", data=np.array([1, 2, 3], dtype="int64"))


mobile_rng = np.random.default_rng(11)


def mobile():
    keras.utils.set_random_seed(13)
    model = separable()
    keras2_layout(model, OUT / "separable-keras2.h5")
    dropout_rnn()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    parts = {"base": base, "mobile": mobile}
    for part in sys.argv[1:] or list(parts):
        if part not in parts:
            raise SystemExit(f"unknown part {part!r}; parts: {', '.join(parts)}")
        parts[part]()
    print("wrote", sorted(p.name for p in OUT.iterdir()))


def base():
    keras.utils.set_random_seed(3)
    model = mlp()
    model.save_weights(OUT / "mlp.weights.h5")
    keras2_layout(model, OUT / "mlp-keras2.h5")
    cnn()
    lstm()
    gru()
    embedding_rnn()
    functional()
    hostile()


if __name__ == "__main__":
    main()
