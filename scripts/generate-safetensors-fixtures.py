#!/usr/bin/env python3
"""Writes the safetensors fixtures of Tests/PlexusInteropTests/Fixtures with the reference
implementation (the `safetensors` package with PyTorch), and the values they hold as JSON.

Run once with a Python that has torch and safetensors; commit the small outputs:
  python scripts/generate-safetensors-fixtures.py
"""
import json
import pathlib

import torch
from safetensors.torch import save_file

FOLDER = pathlib.Path(__file__).resolve().parent.parent / "Tests/PlexusInteropTests/Fixtures"


def main():
    FOLDER.mkdir(parents=True, exist_ok=True)
    tensors = {
        "dense.weight": torch.tensor([[0.5, -1.25, 2.0], [3.0, 0.0, -0.75]], dtype=torch.float32),
        "half": torch.tensor([1.5, -2.0, 0.099975586, 65504.0], dtype=torch.float16),
        "brain": torch.tensor([[1.0, -3.5], [0.0078125, 256.0]], dtype=torch.bfloat16),
        "double_scalar": torch.tensor(2.5, dtype=torch.float64),
        "steps": torch.tensor([1, -7, 123456], dtype=torch.int64),
        "small": torch.tensor([3, 250], dtype=torch.uint8),
        "flags": torch.tensor([True, False]),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    save_file(tensors, FOLDER / "reference.safetensors", metadata={"format": "pt", "note": "fixture"})
    expected = {
        name: {"shape": list(t.shape), "values": t.to(torch.float64).flatten().tolist()}
        for name, t in tensors.items()
    }
    (FOLDER / "reference.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
