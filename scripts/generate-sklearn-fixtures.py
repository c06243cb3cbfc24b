#!/usr/bin/env python3
"""Writes the scikit-learn BernoulliRBM fixture of Tests/PlexusInteropTests/Fixtures.

- sklearn-rbm.npz (np.savez): a BernoulliRBM's components_ [n_components, n_features],
  intercept_hidden_ [n_components] and intercept_visible_ [n_features], fitted on 16-pixel
  binary patterns; sklearn-rbm.spec.json is the equivalent Plexus architecture
  (plexus.rbm_model, 16 visible, 6 hidden).
- sklearn-rbm-input.npy holds 10 samples and sklearn-rbm-output.npy their hidden
  probabilities, BernoulliRBM.transform (float32).

Run once with a Python that has scikit-learn and numpy; commit the small outputs:
  python scripts/generate-sklearn-fixtures.py
"""
import json
import pathlib

import numpy as np
from sklearn.neural_network import BernoulliRBM

FOLDER = pathlib.Path(__file__).resolve().parent.parent / "Tests/PlexusInteropTests/Fixtures"


def main():
    rng = np.random.default_rng(7)
    patterns = np.array([[1] * 8 + [0] * 8, [0] * 8 + [1] * 8, [1, 0] * 8, [0, 1] * 8],
                        dtype=np.float64)
    data = patterns[rng.integers(0, 4, size=200)]
    flips = rng.random(data.shape) < 0.08
    data = np.where(flips, 1 - data, data)
    rbm = BernoulliRBM(n_components=6, learning_rate=0.05, batch_size=10, n_iter=30,
                       random_state=3)
    rbm.fit(data)
    np.savez(FOLDER / "sklearn-rbm.npz",
             components_=rbm.components_.astype(np.float32),
             intercept_hidden_=rbm.intercept_hidden_.astype(np.float32),
             intercept_visible_=rbm.intercept_visible_.astype(np.float32))
    inputs = data[:10].astype(np.float32)
    np.save(FOLDER / "sklearn-rbm-input.npy", inputs)
    # transform of the float32 parameters Plexus reads, so the reference is theirs exactly.
    rbm.components_ = rbm.components_.astype(np.float32).astype(np.float64)
    rbm.intercept_hidden_ = rbm.intercept_hidden_.astype(np.float32).astype(np.float64)
    rbm.intercept_visible_ = rbm.intercept_visible_.astype(np.float32).astype(np.float64)
    np.save(FOLDER / "sklearn-rbm-output.npy",
            rbm.transform(inputs.astype(np.float64)).astype(np.float32))
    spec = {
        "name": "sklearn-rbm",
        "inputShape": [16],
        "layers": [{"type": "plexus.rbm_model", "name": "rbm",
                    "config": {"visible": 16, "hidden": 6}}],
        "optimizer": "sgd",
        "data": {"source": "npy", "features": "sklearn-rbm-input.npy",
                 "labels": "sklearn-rbm-output.npy"},
    }
    (FOLDER / "sklearn-rbm.spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
