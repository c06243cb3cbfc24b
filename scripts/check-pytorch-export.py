#!/usr/bin/env python3
"""Checks that weights Plexus exported with `plexus convert ... --layout pytorch` load into the
equivalent torch.nn modules with load_state_dict(strict=True) and give torch's outputs.

  python scripts/check-pytorch-export.py FOLDER

FOLDER holds manifest.json, written by the PlexusInteropTests test that exports the fixture
models: {"cases": [{"fixture": "cnn", "file": "cnn-torch.safetensors", "modules": null}, ...]}.
A case's file is a .safetensors, .npz or .pt state dict (a .pt file is read with
torch.load(weights_only=True)). With "modules": null it must load into the
fixture's own module (its tensors carry torch's names, through a mapping file); otherwise
"modules" maps each exported module name (a Plexus layer path) to the fixture module's
submodule, and the file loads into a module made of those submodules under those names.
Each case's outputs on the fixture's input must be within 1e-4 of the fixture's outputs.
Prints one line per case and a closing 'N passed, N failed'; exits 1 when any failed.
"""
import importlib.util
import json
import pathlib
import sys

import numpy as np
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/PlexusInteropTests/Fixtures"


def fixture_models():
    spec = importlib.util.spec_from_file_location(
        "fixtures", ROOT / "scripts/generate-pytorch-fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_state(path):
    if path.suffix == ".pt":
        # Written by Plexus as torch.save writes state dicts; the restricted loader must take it.
        return torch.load(path, weights_only=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    with np.load(path) as archive:
        return {name: torch.from_numpy(archive[name].copy()) for name in archive.files}


def main():
    folder = pathlib.Path(sys.argv[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    fixtures = fixture_models()
    passed = failed = 0
    for case in manifest["cases"]:
        name = case["fixture"]
        model = fixtures.build(name)
        state = load_state(folder / case["file"])
        try:
            if case["modules"] is None:
                model.load_state_dict(state, strict=True)
            else:
                container = nn.Module()
                for exported, submodule in case["modules"].items():
                    container.add_module(exported, model.get_submodule(submodule))
                container.load_state_dict(state, strict=True)
            model.eval()
            inputs = torch.from_numpy(np.load(FIXTURES / f"{name}-input.npy"))
            if name == "rnn":
                inputs = inputs.long()
            with torch.no_grad():
                outputs = model(inputs).numpy()
            expected = np.load(FIXTURES / f"{name}-output.npy")
            worst = float(np.max(np.abs(outputs - expected)))
            if worst > 1e-4:
                raise AssertionError(f"outputs differ from torch's by {worst:.3g}")
            print(f"ok   {case['file']}: load_state_dict(strict=True), max |diff| {worst:.2g}")
            passed += 1
        except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
            print(f"FAIL {case['file']}: {error}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
