"""What the page draws, packed small: byte grids for the heatmaps, float32 for the weights.

A frame is one binary WebSocket message::

    uint32 n (little-endian) | n bytes of JSON header | padding to 4 bytes
    | output maps: k × G × G uint8 | node maps: N × g × g uint8 | padding to 4 bytes
    | weights: float32, every layer's W then b, in order

Output maps hold the network's output on a G × G grid over the domain (probability ×
255, or a regression value in [-1, 1] mapped to 0..255); node maps hold every input
feature's (all seven, in use or not) and every unit's value on a g × g grid, scaled by
its largest magnitude so that 128 is zero. A 64 × 64 boundary is 4 KB, against ~150 KB for a PNG.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from glassnet.playground.data import FEATURE_FUNCTIONS, features, grid

OUTPUT_GRID = 64
NODE_STRIDE = 2          # node maps use every second grid point: 32 × 32
NODE_GRID = OUTPUT_GRID // NODE_STRIDE


class GridInputs:
    """The grid's points, the network's input there, and every feature's map (the page shows
    the features not in use too, greyed), computed once per architecture."""

    def __init__(self, feature_names: tuple[str, ...]) -> None:
        self.points = grid(OUTPUT_GRID)
        self.inputs = features(self.points, feature_names)
        self.feature_maps = _node_samples(features(self.points, list(FEATURE_FUNCTIONS)))


def _signed_bytes(values: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (n, units) scaled by their largest magnitude into 1..255, 128 = 0."""
    scale = np.abs(values).max(axis=0)
    scale[~np.isfinite(scale) | (scale == 0)] = 1.0
    scaled = np.nan_to_num(values / scale, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.round(128 + 127 * scaled).astype(np.uint8)


def _node_samples(values: np.ndarray) -> np.ndarray:
    """(G², units) -> (units, g²) bytes: every NODE_STRIDE-th point of every NODE_STRIDE-th row."""
    cube = np.asarray(values).reshape(OUTPUT_GRID, OUTPUT_GRID, -1)[::NODE_STRIDE, ::NODE_STRIDE]
    return _signed_bytes(cube.reshape(NODE_GRID * NODE_GRID, -1)).T


def output_bytes(output: np.ndarray, task: str) -> np.ndarray:
    """The output heatmap(s): (k, G²) uint8."""
    values = np.nan_to_num(output.T, nan=0.5)
    if task == "regression":
        values = (np.clip(values, -1.0, 1.0) + 1.0) / 2.0
    return np.round(255 * np.clip(values, 0.0, 1.0)).astype(np.uint8)


def node_maps(model: Any, grid_inputs: GridInputs) -> tuple[np.ndarray, np.ndarray]:
    """Every feature's and unit's map and the network's output on the grid, with the layers'
    own forward pass."""
    maps = [grid_inputs.feature_maps]
    A = grid_inputs.inputs.astype(model.dtype)   # what model.forward does first
    for layer in model.layers:
        A = layer.forward(A, training=False)
        maps.append(_node_samples(A))
    return np.concatenate(maps), np.array(A)


def encode(header: dict[str, Any], outputs: np.ndarray, nodes: np.ndarray,
           weights: list[np.ndarray]) -> bytes:
    """Pack one frame (see the module docstring)."""
    header = {**header, "outputMaps": int(outputs.shape[0]), "grid": OUTPUT_GRID,
              "nodes": int(nodes.shape[0]), "nodeGrid": NODE_GRID}
    text = json.dumps(header, allow_nan=False).encode()
    head = struct.pack("<I", len(text)) + text
    head += b"\0" * (-len(head) % 4)
    maps = outputs.tobytes() + nodes.tobytes()
    maps += b"\0" * (-len(maps) % 4)
    flat = np.concatenate([np.ravel(w) for w in weights]).astype("<f4") if weights else np.empty(0, "<f4")
    return head + maps + flat.tobytes()


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a diverged loss travels as null."""
    return float(value) if np.isfinite(value) else None
