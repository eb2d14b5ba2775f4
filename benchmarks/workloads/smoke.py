"""A trivial workload that exercises the harness in well under a second (for the tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
from _harness import Target, compare

from workloads import common


def run(settings: common.Settings) -> dict[str, Any]:
    a = np.arange(1000, dtype=np.float32)
    out = np.empty_like(a)
    case = compare(
        "add vs multiply, 1000 floats",
        {"glassnet": lambda: np.add(a, a, out=out), "numpy multiply": lambda: np.multiply(a, a, out=out)},
        settings.repeats,
        number=100,
    )
    result = case.to_json()
    target = Target("smoke", "speedup vs numpy multiply",
                    result["speedup"]["numpy multiply"]["median"], 0.0, unit="x")
    return {"title": "smoke: the harness itself", "cases": [result], "targets": [target]}
