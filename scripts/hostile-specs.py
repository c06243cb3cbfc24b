#!/usr/bin/env python3
"""Hostile-spec sweep for `plexus train`.

Generates specs that are each wrong in one place - a huge, negative, fractional, missing,
misspelt or mistyped value for every key of every layer config, of every optimizer and of the
spec itself - runs `plexus train` on each (one epoch on the bundled digits) and checks that
every one exits with status 1 and a message naming the JSON path of the mistake: no crash, no
hang, no silent acceptance.

    scripts/hostile-specs.py [path/to/plexus] [--keep DIR] [--timeout SECONDS]

The valid base spec of every case is run first and must train (exit 0), so a failure is the
mutation's. Prints one line per failure and a summary; exits 1 when any case failed.
Standard library only.
"""

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile

# A valid base per layer type: the spec's inputShape, its layers (the layer under test first,
# then a head that makes it a digits classifier) and, for model types trained as themselves,
# the spec members that differ. The digits are 64 features in [0, 1], 10 classes.
HEAD = [{"type": "plexus.flatten"}, {"type": "plexus.dense", "config": {"units": 10}}]
DENSE_HEAD = [{"type": "plexus.dense", "config": {"units": 10}}]


def layer(type_name, config, shape, head=None, before=None):
    return {
        "inputShape": shape,
        "layers": (before or []) + [{"type": type_name, "config": config}] + (head if head is not None else HEAD),
        "index": len(before or []),
    }


SUBMODEL = {"type": "plexus.sequential", "name": "encoder", "config": {"inputShape": [64], "layers": [
    {"type": "plexus.dense", "name": "code", "config": {"units": 8, "activation": "relu"}}]}}
DECODER = {"type": "plexus.sequential", "name": "decoder", "config": {"inputShape": [8], "layers": [
    {"type": "plexus.dense", "name": "out", "config": {"units": 64, "activation": "sigmoid"}}]}}
VAE_DECODER = {"type": "plexus.sequential", "name": "decoder", "config": {"inputShape": [2], "layers": [
    {"type": "plexus.dense", "name": "out", "config": {"units": 64, "activation": "sigmoid"}}]}}

LAYERS = {
    "plexus.dense": layer("plexus.dense", {"units": 16, "activation": "relu", "useBias": True,
                                           "kernelInitializer": "he_uniform", "biasInitializer": "zeros",
                                           "kernelRegularizer": {"l2": 0.001}}, [64], DENSE_HEAD),
    "plexus.perceptron": layer("plexus.perceptron", {"units": 10, "useBias": True, "kernelInitializer": "zeros"},
                               [64], []),
    "plexus.conv1d": layer("plexus.conv1d", {"filters": 4, "kernelSize": 3, "strides": 1, "padding": "same",
                                             "dilation": 1, "activation": "relu"}, [8, 8]),
    "plexus.conv2d": layer("plexus.conv2d", {"filters": 4, "kernelSize": [3, 3], "strides": [1, 1],
                                             "padding": "valid", "dilation": [1, 1], "activation": "relu",
                                             "useBias": True, "groups": 1}, [8, 8, 1]),
    "plexus.depthwise_conv2d": layer("plexus.depthwise_conv2d", {"kernelSize": [3, 3], "strides": [1, 1],
                                                                 "padding": "same", "depthMultiplier": 2,
                                                                 "activation": "relu"}, [8, 8, 1]),
    "plexus.separable_conv2d": layer("plexus.separable_conv2d", {"filters": 4, "kernelSize": [3, 3],
                                                                 "depthMultiplier": 2, "padding": "valid"},
                                     [8, 8, 1]),
    "plexus.pad2d": layer("plexus.pad2d", {"padding": [[1, 1], [2, 2]], "mode": "reflect"}, [8, 8, 1]),
    "plexus.conv2d_transpose": layer("plexus.conv2d_transpose", {"filters": 2, "kernelSize": [2, 2],
                                                                 "strides": [2, 2]}, [8, 8, 1]),
    "plexus.max_pool2d": layer("plexus.max_pool2d", {"poolSize": [2, 2], "strides": [2, 2], "padding": "valid"},
                               [8, 8, 1]),
    "plexus.average_pool2d": layer("plexus.average_pool2d", {"poolSize": [2, 2], "strides": [2, 2]}, [8, 8, 1]),
    "plexus.global_max_pool2d": layer("plexus.global_max_pool2d", {"keepDims": False}, [8, 8, 1]),
    "plexus.global_average_pool2d": layer("plexus.global_average_pool2d", {"keepDims": True}, [8, 8, 1]),
    "plexus.batch_normalization": layer("plexus.batch_normalization", {"momentum": 0.9, "epsilon": 0.001,
                                                                       "center": True, "scale": True}, [64],
                                        DENSE_HEAD),
    "plexus.zero_padding2d": layer("plexus.zero_padding2d", {"top": 1, "bottom": 1, "left": 1, "right": 1},
                                   [8, 8, 1]),
    "plexus.up_sampling2d": layer("plexus.up_sampling2d", {"size": [2, 2]}, [8, 8, 1]),
    "plexus.dropout": layer("plexus.dropout", {"rate": 0.2, "seed": 3}, [64], DENSE_HEAD),
    "plexus.gaussian_noise": layer("plexus.gaussian_noise", {"stddev": 0.1, "seed": 3}, [64], DENSE_HEAD),
    "plexus.masking_noise": layer("plexus.masking_noise", {"rate": 0.2, "seed": 3}, [64], DENSE_HEAD),
    "plexus.activity_regularization": layer("plexus.activity_regularization", {"l1": 0.01, "l2": 0.01}, [64],
                                            DENSE_HEAD),
    "plexus.kl_sparsity": layer("plexus.kl_sparsity", {"target": 0.05, "weight": 0.1},
                                [64], DENSE_HEAD,
                                before=[{"type": "plexus.dense", "config": {"units": 8, "activation": "sigmoid"}}]),
    "plexus.contractive_dense": layer("plexus.contractive_dense", {"units": 8, "activation": "sigmoid",
                                                                   "weight": 0.1}, [64], DENSE_HEAD),
    "plexus.activation": layer("plexus.activation", {"activation": "tanh"}, [64], DENSE_HEAD),
    "plexus.prelu": layer("plexus.prelu", {"alphaInitializer": 0.25}, [64], DENSE_HEAD),
    "plexus.reshape": layer("plexus.reshape", {"targetShape": [8, 8]}, [64]),
    "plexus.slice": layer("plexus.slice", {"axis": -1, "start": 0, "length": 32}, [64], DENSE_HEAD),
    "plexus.simple_rnn": layer("plexus.simple_rnn", {"units": 8, "returnSequences": False,
                                                     "activation": "tanh"}, [8, 8], DENSE_HEAD),
    "plexus.lstm": layer("plexus.lstm", {"units": 8, "returnSequences": False, "goBackwards": False,
                                         "unitForgetBias": True}, [8, 8], DENSE_HEAD),
    "plexus.gru": layer("plexus.gru", {"units": 8, "resetAfter": True}, [8, 8], DENSE_HEAD),
    "plexus.masking": layer("plexus.masking", {"maskValue": 0.0}, [8, 8],
                            [{"type": "plexus.lstm", "config": {"units": 4}}] + DENSE_HEAD),
    "plexus.embedding": {**layer("plexus.embedding", {"inputDim": 17, "outputDim": 4, "maskZero": False}, [8]),
                         "data": "ids"},
    "plexus.time_distributed": layer("plexus.time_distributed",
                                     {"layer": {"type": "plexus.dense", "name": "inner", "config": {"units": 4}}}, [8, 8]),
    "plexus.bidirectional": layer("plexus.bidirectional",
                                  {"layer": {"type": "plexus.lstm", "name": "inner", "config": {"units": 4}}, "mergeMode": "concat"},
                                  [8, 8], DENSE_HEAD),
    "plexus.rbm": layer("plexus.rbm", {"hiddenUnits": 16, "visibleUnits": "bernoulli",
                                       "weightStandardDeviation": 0.01}, [64], DENSE_HEAD),
    "plexus.dense_tied": {
        "inputShape": [64],
        "layers": [{"type": "plexus.dense", "name": "enc", "config": {"units": 16}},
                   {"type": "plexus.dense_tied", "config": {"tiedTo": "enc", "units": 64, "activation": "sigmoid"}}]
        + DENSE_HEAD,
        "index": 1,
    },
}

# Model types trained as themselves: the whole spec.
MODELS = {
    "plexus.rbm_model": {
        "inputShape": [64],
        "layers": [{"type": "plexus.rbm_model", "config": {"visible": 64, "hidden": 16, "gibbsSteps": 1,
                                                           "persistent": False, "seed": 1}}],
        "optimizer": {"type": "sgd", "learningRate": 0.02},
    },
    "plexus.dbn": {
        "inputShape": [64],
        "layers": [{"type": "plexus.dbn", "config": {"sizes": [64, 16], "classes": 10, "seed": 1,
                                                     "gibbsSteps": 1}}],
        "loss": "softmax_cross_entropy", "optimizer": "adam",
    },
    "plexus.autoencoder": {
        "inputShape": [64], "target": "input", "loss": "mse", "optimizer": "adam",
        "layers": [{"type": "plexus.autoencoder", "config": {"inputShape": [64], "loss": "plexus.mse",
                                                             "encoder": SUBMODEL, "decoder": DECODER}}],
    },
    "plexus.vae": {
        "inputShape": [64], "target": "input", "loss": "binary_crossentropy", "optimizer": "adam",
        "layers": [{"type": "plexus.vae", "config": {"inputShape": [64], "latentDimension": 2,
                                                     "likelihood": "bernoulli", "seed": 7,
                                                     "encoder": SUBMODEL, "decoder": VAE_DECODER}}],
    },
}

OPTIMIZERS = {
    "sgd": {"learningRate": 0.01, "momentum": 0.9, "nesterov": True, "weightDecay": 0.0001},
    "adam": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "weightDecay": 0.0,
             "amsgrad": False},
    "adamw": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "weightDecay": 0.01},
    "rmsprop": {"learningRate": 0.001, "alpha": 0.9, "epsilon": 1e-7, "momentum": 0.0, "centered": False},
    "adagrad": {"learningRate": 0.01, "learningRateDecay": 0.0, "initialAccumulatorValue": 0.1,
                "epsilon": 1e-7},
}

BASE = {"loss": "softmax_cross_entropy", "optimizer": {"type": "adam", "learningRate": 0.003},
        "epochs": 1, "batchSize": 128, "seed": 1, "data": {"source": "digits"}}

# Values no key of its kind takes.
HUGE_INT = 10 ** 30          # beyond Int64 and UInt64
BEYOND_FLOAT = 1e39          # beyond Float32
# Keys whose integers may be negative (an axis counted from the end).
SIGNED_KEYS = {"axis"}
# Keys whose numbers may be negative by design (any mask value; a negative initial slope).
FREE_FLOATS = {"maskValue", "alphaInitializer"}


def misspelt(key):
    """A plausible typo: the last two letters swapped, or the last one dropped when they are
    the same."""
    if len(key) > 2 and key[-1] != key[-2]:
        return key[:-2] + key[-1] + key[-2]
    return key[:-1] if len(key) > 1 else key + key


def mutations(config, required):
    """(description, key, mutated config) triples, each wrong in one key."""
    out = []
    for key, value in config.items():
        out.append((f"misspelt key '{key}'", None,
                    {misspelt(key) if k == key else k: v for k, v in config.items()}))
        if key in required:
            out.append((f"missing required '{key}'", None, {k: v for k, v in config.items() if k != key}))
        def bad(description, new_value):
            out.append((f"'{key}' {description}", key, {**config, key: new_value}))
        if isinstance(value, bool):
            bad("as a string", "yes")
        elif isinstance(value, int):
            bad("fractional", value + 0.5)
            bad("huge", HUGE_INT)
            if key not in SIGNED_KEYS:
                bad("negative", -3)
        elif isinstance(value, float):
            bad("beyond float32", BEYOND_FLOAT)
            if key not in FREE_FLOATS:
                bad("negative", -abs(value) - 1)
            bad("as a string", "0.5")
        elif isinstance(value, str):
            bad("unknown name", "no_such_" + value)
            bad("as a number", 7)
        elif isinstance(value, list):
            if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                bad("huge", [HUGE_INT] * len(value))
                bad("negative", [-2] * len(value))
                bad("fractional", [v + 0.5 for v in value])
                bad("2^32 each", [2 ** 32] * len(value))
            bad("empty", [])
        elif isinstance(value, dict):
            bad("with an unknown member", {**value, "bogus": 1})
            bad("as a number", 3)
    return out


def cases(registry):
    """Every (name, spec, path the message must name) of the sweep, base specs first."""
    out = []
    for type_name, base in sorted(LAYERS.items()):
        spec = {**BASE, "inputShape": base["inputShape"], "layers": base["layers"]}
        if base.get("data") == "ids":
            spec["data"] = {"source": "npy", "features": "ids.npy", "labels": "id-labels.npy"}
        index = base["index"]
        out.append((f"{type_name}: base", spec, None))
        config = base["layers"][index].get("config", {})
        keys = registry.get(type_name, {})
        for key in keys.get("keys", []):
            if key not in config:
                mutated = copy.deepcopy(spec)
                mutated["layers"][index]["config"] = {**config, key: {"bogus": [True]}}
                out.append((f"{type_name}: optional '{key}' mistyped", mutated, f"$.layers[{index}]"))
        for description, _, mutated_config in mutations(config, set(keys.get("required", []))):
            mutated = copy.deepcopy(spec)
            mutated["layers"][index]["config"] = mutated_config
            out.append((f"{type_name}: {description}", mutated, f"$.layers[{index}]"))
    for type_name, base in sorted(MODELS.items()):
        spec = {**{k: v for k, v in BASE.items() if k not in ("loss", "optimizer")}, **copy.deepcopy(base)}
        out.append((f"{type_name}: base", spec, None))
        config = base["layers"][0]["config"]
        keys = registry.get(type_name, {})
        for description, _, mutated_config in mutations(config, set(keys.get("required", []))):
            mutated = copy.deepcopy(spec)
            mutated["layers"][0]["config"] = mutated_config
            out.append((f"{type_name}: {description}", mutated, "$.layers[0]"))
    for name, config in sorted(OPTIMIZERS.items()):
        spec = {**BASE, "inputShape": [64], "layers": DENSE_HEAD, "optimizer": {"type": name, **config}}
        out.append((f"optimizer {name}: base", spec, None))
        for description, _, mutated_config in mutations(config, set()):
            mutated = copy.deepcopy(spec)
            mutated["optimizer"] = {"type": name, **mutated_config}
            out.append((f"optimizer {name}: {description}", mutated, "$.optimizer"))
        # Values of the right type but out of the optimizer's range.
        for key, value in [("learningRate", -0.1), ("epsilon", 0.0), ("beta1", 1.0), ("beta2", 1.5),
                           ("momentum", 1.0), ("momentum", -0.5), ("alpha", 1.5),
                           ("weightDecay", -1.0)]:
            if key in config:
                mutated = copy.deepcopy(spec)
                mutated["optimizer"][key] = value
                out.append((f"optimizer {name}: '{key}' {value}", mutated, "$.optimizer"))
    top = {**BASE, "inputShape": [64], "layers": DENSE_HEAD, "validationSplit": 0.1}
    out.append(("spec: base", top, None))
    settings = ("epochs", "batchSize", "seed", "validationSplit", "inputShape")
    for description, key, mutated in mutations({k: top[k] for k in settings}, set()):
        spec = {**{k: v for k, v in top.items() if k not in settings}, **mutated}
        # A misspelt key is reported at the spec ($), a bad value at its own path.
        out.append((f"spec: {description}", spec, f"$.{key}" if key else "at $"))
    for key in ("layers", "optimizer", "data"):
        out.append((f"spec: missing '{key}'", {k: v for k, v in top.items() if k != key}, "at $"))
    extras = [
        ("validationSplit 1", {"validationSplit": 1.0}, "$.validationSplit"),
        ("loss unknown", {"loss": "no_such_loss"}, "$.loss"),
        ("data source unknown", {"data": {"source": "mnist"}}, "$.data.source"),
        ("data with an unknown member", {"data": {"source": "digits", "path": "x"}}, "$.data"),
        ("layers empty", {"layers": []}, "$.layers"),
        ("layer type unknown", {"layers": [{"type": "dense", "config": {"units": 3}}]}, "$.layers[0].type"),
        ("layer with an unknown member", {"layers": [{"type": "plexus.dense", "confg": {"units": 3}}]}, "$.layers[0]"),
        ("inputShape huge", {"inputShape": [2 ** 32, 2 ** 32]}, "$.inputShape"),
        ("inputShape zero", {"inputShape": [0]}, "$.inputShape"),
        ("metrics unknown", {"metrics": ["accuracy", "auc"]}, "$.metrics[1]"),
        ("classWeights negative", {"classWeights": [1, -1]}, "$.classWeights[1]"),
        ("earlyStopping misspelt", {"earlyStopping": {"monitr": "loss"}}, "$.earlyStopping"),
        ("schedule unknown", {"learningRateSchedule": {"type": "onecycle"}}, "$.learningRateSchedule.type"),
        ("plateau factor 1", {"learningRateSchedule": {"type": "reduce_on_plateau", "factor": 1}}, "$.learningRateSchedule"),
        ("target unknown", {"target": "labels2"}, "$.target"),
        ("pretraining on a dense model", {"pretraining": {"optimizer": "sgd"}}, "$.pretraining"),
    ]
    for description, changes, path in extras:
        out.append((f"spec: {description}", {**top, **changes}, path))
    return out


def write_npy(path, shape, values):
    """A float32 .npy file (format 1.0, C order)."""
    import struct
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as handle:
        handle.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        handle.write(struct.pack("<%df" % len(values), *values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plexus", nargs="?", default=".build/debug/plexus")
    parser.add_argument("--keep", help="write the specs into this folder and keep them")
    parser.add_argument("--timeout", type=float, default=120)
    arguments = parser.parse_args()
    plexus = os.path.abspath(arguments.plexus)
    listing = subprocess.run([plexus, "layers", "--json"], capture_output=True, text=True, check=True)
    registry = {entry["type"]: entry for entry in json.loads(listing.stdout)}
    folder = arguments.keep or tempfile.mkdtemp(prefix="plexus-hostile-")
    os.makedirs(folder, exist_ok=True)
    # Integer ids for the embedding: 40 sequences of 8 ids in 0..<17, two classes.
    write_npy(os.path.join(folder, "ids.npy"), [40, 8], [float((i * 7 + j) % 17) for i in range(40) for j in range(8)])
    write_npy(os.path.join(folder, "id-labels.npy"), [40], [float(i % 2) for i in range(40)])
    all_cases = cases(registry)
    failures = []
    counts = {"cases": 0, "exit 1 with path": 0, "crashes": 0, "hangs": 0, "accepted": 0,
              "wrong exit": 0, "path missing": 0, "bases": 0}
    swept = set()
    for number, (name, spec, path) in enumerate(all_cases):
        file = os.path.join(folder, f"case-{number:03d}.json")
        with open(file, "w") as handle:
            json.dump(spec, handle, indent=1)
        output = os.path.join(folder, f"case-{number:03d}.plexus")
        try:
            result = subprocess.run(
                [plexus, "train", file, "-o", output, "--quiet"], capture_output=True, text=True,
                timeout=arguments.timeout)
        except subprocess.TimeoutExpired:
            counts["hangs"] += 1
            failures.append((name, "hang", f"no exit after {arguments.timeout} s"))
            continue
        message = (result.stderr + result.stdout).strip().splitlines()
        last = message[-1] if message else ""
        if path is None:
            counts["bases"] += 1
            if result.returncode != 0:
                failures.append((name, f"base spec failed with {result.returncode}", last))
            continue
        counts["cases"] += 1
        swept.add(name.split(":")[0])
        if result.returncode < 0 or result.returncode >= 128:
            counts["crashes"] += 1
            signal_name = signal.Signals(-result.returncode).name if result.returncode < 0 else str(result.returncode)
            failures.append((name, f"crash ({signal_name})", last))
        elif result.returncode == 0:
            counts["accepted"] += 1
            failures.append((name, "accepted (exit 0)", ""))
        elif result.returncode != 1:
            counts["wrong exit"] += 1
            failures.append((name, f"exit {result.returncode}", last))
        elif path not in result.stderr:
            counts["path missing"] += 1
            failures.append((name, f"message does not name {path}", last))
        else:
            counts["exit 1 with path"] += 1
    for name, kind, detail in failures:
        print(f"FAIL {name}: {kind}: {detail[:300]}")
    print(f"{counts['cases']} hostile specs ({len(swept)} layer types, optimizers and the spec), "
          f"{counts['bases']} base specs: {counts['exit 1 with path']} exit 1 naming the JSON path, "
          f"{counts['crashes']} crashes, {counts['hangs']} hangs, {counts['accepted']} accepted, "
          f"{counts['wrong exit']} other exit codes, {counts['path missing']} without the path")
    unswept = sorted(set(registry) - set(LAYERS) - set(MODELS))
    print("layer types without config keys or only in graphs, not swept: " + ", ".join(unswept))
    if not arguments.keep:
        for entry in os.listdir(folder):
            os.remove(os.path.join(folder, entry))
        os.rmdir(folder)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
