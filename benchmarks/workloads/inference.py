"""C. Inference: ``predict`` on 10,000 rows, and the latency of one row.

PyTorch runs under ``torch.no_grad()``; its MNIST network ends in ``softmax`` so
that both libraries return probabilities. Both take a NumPy array and return
one (``torch.from_numpy`` in, ``.numpy()`` out), as a user calling ``predict``
would. Single-row latency is the circles network on one ``(1, 2)`` row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _harness import Target, compare, log

from workloads import common


def _torch_predict(net, softmax: bool):
    import torch

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = net(torch.from_numpy(X))
            if softmax:
                out = torch.softmax(out, dim=1)
            return out.numpy()

    return predict


def run(settings: common.Settings) -> dict[str, Any]:
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
        log("C: torch not installed; glassnet only")
    n = 10_000
    cases = []
    targets = []
    networks = (
        ("MNIST MLP 784-256-128-10", common.MNIST_LAYERS, "softmax",
         common.random_mnist_like(n, seed=1)[0]),
        ("circles 2-4-6-6-4-1", common.CIRCLES_LAYERS, "sigmoid", common.circles(n, seed=1)[0]),
    )
    circles_models = None
    for label, layers, output, X in networks:
        model = common.glassnet_model(layers, output, common.glassnet_optimizer("adam", 1e-3), 0)
        model.build((layers[0],))
        runners: dict[str, Any] = {"glassnet": lambda m=model, X=X: m.predict(X)}
        if has_torch:
            net = common.torch_model(layers, output, 0).eval()
            predict = _torch_predict(net, softmax=output == "softmax")
            runners["torch no_grad"] = lambda p=predict, X=X: p(X)
            if output == "sigmoid":
                circles_models = (model, predict)
        elif output == "sigmoid":
            circles_models = (model, None)
        name = f"predict {n:,} rows, {label}"
        log(f"C: {name}")
        case = compare(name, runners, settings.repeats, number=3 if settings.quick else 10,
                       unit=f"s/predict ({n} rows)")
        case.extra["notes"] = {who: f"{n / np.median(t):,.0f} rows/s"
                               for who, t in case.seconds.items()}
        result = case.to_json()
        cases.append(result)
        ratio = result["speedup"].get("torch no_grad")
        targets.append(Target("C", f"predict {label}: throughput vs torch no_grad",
                              None if ratio is None else ratio["median"], 1.0, unit="x"))

    model, torch_predict = circles_models
    row = common.circles(10, seed=2)[0][:1].copy()
    number = 500 if settings.quick else 5000
    for method in ("predict", "predict_on_batch"):
        call = getattr(model, method)
        runners = {"glassnet": lambda call=call: call(row)}
        if torch_predict is not None:
            runners["torch no_grad"] = lambda: torch_predict(row)
        name = f"one row, circles, model.{method}"
        log(f"C: {name}")
        case = compare(name, runners, settings.repeats, number=number, unit="s/call")
        result = case.to_json()
        cases.append(result)
        targets.append(Target("C", f"single-row latency, {method}",
                              result["results"]["glassnet"]["median"] * 1e6, 20.0,
                              higher_is_better=False, unit=" µs"))
    return {"title": "C. Inference", "cases": cases, "targets": targets}
