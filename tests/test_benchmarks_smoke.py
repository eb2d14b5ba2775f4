"""The speed suite's harness runs and writes the JSON it documents.

Only the trivial ``smoke`` workload runs here, in ``--quick`` mode: the real
benchmarks are never timed in the test suite (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run_module():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run

        yield run
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_quick_smoke_run_writes_the_documented_json(run_module, tmp_path, capsys):
    out = tmp_path / "smoke.json"
    run_module.main(["--quick", "--only", "smoke", "--repeats", "3", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["quick"] is True and report["repeats"] == 3
    assert {"cpu", "cores", "numpy", "blas", "OPENBLAS_CORETYPE", "torch"} <= set(report["machine"])
    assert report["peak"]["numpy_gflops"] > 0
    assert 0 < report["small_call_us"]["start_us"] < 1000 and 0 < report["small_call_us"]["end_us"] < 1000
    assert list(report["workloads"]) == ["smoke"]

    case = report["workloads"]["smoke"]["cases"][0]
    assert set(case) == {"name", "unit", "baseline", "results", "speedup", "extra"}
    assert case["baseline"] == "glassnet"
    assert set(case["results"]) == {"glassnet", "numpy multiply"}
    for result in case["results"].values():
        assert len(result["values"]) == 3
        assert 0 < result["min"] <= result["median"] <= result["max"]
    # The speedup is paired: one ratio per round, peer time over glassnet time.
    ratios = case["speedup"]["numpy multiply"]["values"]
    peer, ours = case["results"]["numpy multiply"]["values"], case["results"]["glassnet"]["values"]
    assert ratios == pytest.approx([p / g for p, g in zip(peer, ours, strict=True)])

    (target,) = report["targets"]
    assert target["status"] in {"PASS", "MISS"} and target["workload"] == "smoke"
    assert "Machine:" in capsys.readouterr().out


def test_interleaving_alternates_the_order(run_module):
    import _harness

    calls = []
    case = _harness.compare(
        "order", {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        repeats=4, warmup=0,
    )
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert case.to_json()["speedup"] == {}  # no glassnet contestant, no ratios


def test_unknown_workload_is_rejected(run_module, capsys):
    with pytest.raises(SystemExit):
        run_module.main(["--only", "Z"])
    assert "unknown workload" in capsys.readouterr().err
