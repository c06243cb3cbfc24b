#!/usr/bin/env python3
"""Write the small .npy files that the PlexusCore NumPy tests read.

Usage (needs numpy):

    python3 scripts/generate-npy-fixtures.py

Writes into Tests/PlexusCoreTests/Fixtures/npy/ of this repository. Each file holds a
few values chosen to exercise the conversion to Float32; the tests hard-code the same values.
"""

import pathlib

import numpy as np
from numpy.lib import format as npy_format

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "PlexusCoreTests" / "Fixtures" / "npy"


def save(name, array, version=None):
    path = OUT / name
    if version is None:
        np.save(path, array, allow_pickle=array.dtype == object)
    else:
        with open(path, "wb") as handle:
            npy_format.write_array(handle, array, version=version, allow_pickle=False)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # Supported dtypes, little-endian, C order.
    save("float32.npy", np.array([[1.5, -2.25, 0.003], [0.0, 1e30, -7.0]], dtype="<f4"))
    save("float64.npy", np.array([0.1, -1e-10, 123456789.125, 1e300], dtype="<f8"))
    save("int32.npy", np.array([[-2147483648, 0], [7, 16777217]], dtype="<i4"))
    save("int64.npy", np.array([2**40, -5, 0, 3], dtype="<i8"))
    save("uint8.npy", np.array([0, 255, 7], dtype="|u1"))
    save("bool.npy", np.array([[True, False, True]], dtype="|b1"))
    save("scalar.npy", np.array(2.5, dtype="<f4"))
    save("empty.npy", np.zeros((0, 3), dtype="<f4"))
    save("version2.npy", np.arange(6, dtype="<f4").reshape(2, 3), version=(2, 0))
    save("version3.npy", np.arange(4, dtype="<i8").reshape(2, 2), version=(3, 0))
    # Other byte orders, layouts and dtypes, converted as they are read.
    save("bigendian.npy", np.array([1.0, 2.0], dtype=">f4"))
    save("fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
    save("float16.npy", np.array([1.0, 2.0], dtype="<f2"))
    # Unsupported dtypes.
    save("object.npy", np.array([1, "a"], dtype=object))
    save("structured.npy", np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))


if __name__ == "__main__":
    main()
