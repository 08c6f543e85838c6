"""Compact storage of the heads' weight matrices: int8 with one scale per column.

A matrix ``name`` is stored in an npz either plain (``name``, any float dtype, as older
weights and the Chinese head have it) or quantized: ``name`` as int8 and ``name_scale``
(float32, one per column), each weight being its int8 times its column's scale. The scale
maps a column's largest magnitude to 127, so weights under half a step become 0: most of
an n-gram head's weights are that small, and the zeros compress to almost nothing. The
int8 matrix is stored column by column (Fortran order), which compresses a little better.

:func:`quantize` writes it (``benchmarks/train_emotion.py`` calls it), :func:`unpack`
reads either form back as float32.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
#: Largest int8 level; a column's largest magnitude maps to it.
LEVELS = 127


def quantize(name: str, matrix: npt.ArrayLike) -> dict[str, npt.NDArray[np.generic]]:
    """The npz arrays of ``matrix`` stored as ``name``: int8 levels and per-column scales."""
    dense = np.asarray(matrix, dtype=np.float32)
    if dense.ndim != 2:
        raise ValueError(f"{name}: a matrix has two dimensions, not {dense.ndim}")
    peak = np.abs(dense).max(axis=0) if len(dense) else np.zeros(dense.shape[1], np.float32)
    scale = np.where(peak > 0, peak / LEVELS, 1.0).astype(np.float32)
    levels = np.rint(dense / scale).astype(np.int8)
    return {name: np.asfortranarray(levels), f"{name}_scale": scale}


def unpack(data: Mapping[str, npt.NDArray[np.generic]], name: str) -> Matrix:
    """The float32 matrix ``name`` of an npz, plain or quantized."""
    out: Matrix = np.ascontiguousarray(data[name], dtype=np.float32)
    if f"{name}_scale" in data:
        scale = np.asarray(data[f"{name}_scale"], dtype=np.float32)
        if out.ndim != 2 or scale.shape != (out.shape[1],):
            raise ValueError(f"{name}: {scale.shape} scales for a matrix of shape {out.shape}")
        out *= scale
    return out
