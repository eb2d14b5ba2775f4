"""The measuring instrument: paired, interleaved timing and the machine it ran on.

How a comparison is timed
-------------------------
Every contestant (glassnet and its peers) is set up once, warmed up, and then
timed in rounds. In round ``r`` each contestant runs once, in the order
``A B C`` for even ``r`` and ``C B A`` for odd ``r``, so slow drifts of the
machine (other processes, turbo, thermal) hit every contestant alike and no one
is always first or always last. From the rounds we report, per contestant, the
median time with its min..max, and per peer the *paired* ratio

    speedup_r = t_peer,r / t_glassnet,r          (> 1: glassnet is faster)

computed inside each round and then summarised by its median and min..max.
A paired ratio cancels the noise both sides of one round share, which is why
it is steadier than the ratio of two medians on a busy machine.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BASELINE = "glassnet"


# ------------------------------------------------------------------ statistics
def summary(values: list[float]) -> dict[str, Any]:
    """``{'median', 'min', 'max', 'values'}`` of a list of numbers."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": list(values),
    }


@dataclass
class Case:
    """One row of a result table: several contestants timed on the same job.

    ``seconds[name]`` is the list of per-round times of one *call* of that
    contestant; ``per_call_unit`` says what a call is (an epoch, a step, a
    predict of 10,000 rows, ...).
    """

    name: str
    unit: str
    seconds: dict[str, list[float]]
    baseline: str = BASELINE
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        results = {who: summary(times) for who, times in self.seconds.items()}
        ratios = {}
        if self.baseline in self.seconds:
            base = self.seconds[self.baseline]
            for who, times in self.seconds.items():
                if who != self.baseline:
                    ratios[who] = summary([t / b for t, b in zip(times, base, strict=True)])
        return {
            "name": self.name,
            "unit": self.unit,
            "baseline": self.baseline,
            "results": results,
            "speedup": ratios,
            "extra": self.extra,
        }


def compare(
    name: str,
    contestants: dict[str, Callable[[], Any]],
    repeats: int,
    *,
    unit: str = "s/call",
    number: int = 1,
    warmup: int = 1,
    baseline: str = BASELINE,
) -> Case:
    """Time each contestant ``repeats`` times, interleaved, alternating the order.

    Parameters
    ----------
    contestants : dict name -> zero-argument callable
        Each call does one unit of work. Set-up belongs outside the callable.
    repeats : int
        Rounds; every contestant runs once per round.
    number : int
        Calls per timing; the reported time is per call (for microsecond jobs).
    warmup : int
        Untimed rounds first (caches, lazy allocation, first-call compilation).
    """
    names = list(contestants)
    for _ in range(warmup):
        for who in names:
            for _ in range(number):
                contestants[who]()
    seconds: dict[str, list[float]] = {who: [] for who in names}
    for round_index in range(repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for who in order:
            function = contestants[who]
            start = time.perf_counter()
            for _ in range(number):
                function()
            seconds[who].append((time.perf_counter() - start) / number)
    return Case(name, unit, seconds, baseline=baseline)


def compare_external(
    name: str,
    contestants: dict[str, Callable[[], float]],
    repeats: int,
    *,
    unit: str = "s/call",
    warmup: int = 1,
    baseline: str = BASELINE,
) -> Case:
    """Like :func:`compare`, but each callable returns its own measured time in seconds.

    For contestants timed somewhere else (a worker subprocess) or whose call
    includes work that must not be timed.
    """
    names = list(contestants)
    for _ in range(warmup):
        for who in names:
            contestants[who]()
    seconds: dict[str, list[float]] = {who: [] for who in names}
    for round_index in range(repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for who in order:
            seconds[who].append(float(contestants[who]()))
    return Case(name, unit, seconds, baseline=baseline)


# ------------------------------------------------------------------ targets
@dataclass
class Target:
    """A goal such as "speedup vs torch >= 1.3"; ``value`` None means not measured."""

    workload: str
    name: str
    value: float | None
    threshold: float
    higher_is_better: bool = True
    unit: str = ""

    @property
    def status(self) -> str:
        if self.value is None or not np.isfinite(self.value):
            return "SKIP"
        ok = self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold
        return "PASS" if ok else "MISS"

    def describe(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        shown = "n/a" if self.value is None else format_value(self.value, self.unit)
        return f"{self.status:4}  [{self.workload}] {self.name}: {shown} (target {sign} " \
               f"{self.threshold:g}{self.unit})"

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "status": self.status,
        }


# ------------------------------------------------------------------ the machine
def _cpu_details() -> dict[str, Any]:
    """Model name, family/model numbers and vector extensions from /proc/cpuinfo (Linux).

    The numbers tell CPU generations apart where the name does not (a VM often shows
    just "AMD EPYC"): AMD family 25 is Zen 3 / Zen 4 (Zen 4 executes AVX-512 on
    256-bit units), family 26 is Zen 5 (full-width AVX-512).
    """
    details: dict[str, Any] = {"cpu": platform.processor() or platform.machine()}
    fields = {"model name": "cpu", "cpu family": "cpu_family", "model": "cpu_model_number"}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            first_processor = handle.read().split("\n\n")[0]
    except OSError:
        return details
    for line in first_processor.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in fields:
            details[fields[key]] = value
        elif key == "flags":
            wanted = ("avx", "avx2", "fma", "avx512f")
            details["vector_extensions"] = [flag for flag in wanted if flag in value.split()]
    return details


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process (threadpoolctl), kernel type and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed (pip install threadpoolctl)"}]
    np.ones(2) @ np.ones(2)  # make sure NumPy's BLAS is loaded
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads",
            "threading_layer", "filepath")
    return [{key: info.get(key) for key in keys} for info in threadpool_info()]


def numpy_blas(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """The entry of :func:`blas_info` that belongs to NumPy (its wheel's bundled BLAS)."""
    for info in infos:
        path = str(info.get("filepath") or "")
        if info.get("user_api") == "blas" and "numpy" in path:
            return info
    blas = [info for info in infos if info.get("user_api") == "blas"]
    return blas[0] if blas else {}


def set_threads(threads: int | None) -> int:
    """Give NumPy's BLAS ``threads`` threads (None: leave it) and PyTorch the same number.

    Returns the BLAS thread count now in force.
    """
    if threads is not None:
        from threadpoolctl import threadpool_limits

        # Kept alive for the whole process on purpose: the limit must last.
        global _limits
        _limits = threadpool_limits(limits=threads, user_api="blas")
    blas_threads = numpy_blas(blas_info()).get("num_threads") or os.cpu_count() or 1
    try:
        import torch

        torch.set_num_threads(int(blas_threads))
    except ImportError:
        pass
    return int(blas_threads)


def machine_info() -> dict[str, Any]:
    """Everything that decides the numbers: CPU, libraries, BLAS kernels, threads, load."""
    infos = blas_info()
    blas = numpy_blas(infos)
    info: dict[str, Any] = {
        **_cpu_details(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "all_threadpools": infos,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import glassnet

        info["glassnet"] = getattr(glassnet, "__version__", "?")
    except ImportError:
        info["glassnet"] = None
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
    except ImportError:
        info["torch"] = None
    info["sklearn"] = _installed_version("scikit-learn")
    info["keras"] = _installed_version("keras")
    return info


def _installed_version(distribution: str) -> str | None:
    """The installed version of a package, without importing it (scikit-learn is slow to import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def machine_line(info: dict[str, Any]) -> str:
    """One line a reader can compare with another run's."""
    blas = info.get("blas") or {}
    coretype = info.get("OPENBLAS_CORETYPE")
    load = info.get("load_average")
    parts = [
        f"{info['cpu']} (family {info.get('cpu_family', '?')} model "
        f"{info.get('cpu_model_number', '?')}, {'/'.join(info.get('vector_extensions', []))}), "
        f"{info['cores']} cores",
        f"Python {info['python']}",
        f"NumPy {info['numpy']} ({blas.get('internal_api', '?')} {blas.get('version', '?')}, "
        f"kernels {blas.get('architecture', '?')}, {blas.get('num_threads', '?')} threads)",
        f"OPENBLAS_CORETYPE={coretype if coretype is not None else '(unset)'}",
    ]
    if info.get("torch"):
        parts.append(f"PyTorch {info['torch']} ({info['torch_threads']} threads)")
    if info.get("sklearn"):
        parts.append(f"scikit-learn {info['sklearn']}")
    parts.append(f"Keras {info['keras']}" if info.get("keras") else "Keras not installed")
    if load:
        parts.append("load average " + " ".join(f"{x:.2f}" for x in load))
    return "; ".join(parts)


def matmul_peak(n: int = 2048, repeats: int = 7) -> dict[str, Any]:
    """Best float32 GEMM rate of NumPy's BLAS (and PyTorch's, if installed), in GFLOP/s.

    ``C = A·B`` with ``n x n`` matrices costs ``2 n³`` floating-point operations.
    The best of ``repeats`` is the machine's attainable peak for this library.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    flops = 2.0 * n**3

    def best(run: Callable[[], Any]) -> float:
        run()
        fastest = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            fastest = min(fastest, time.perf_counter() - start)
        return flops / fastest / 1e9

    result: dict[str, Any] = {"n": n, "numpy_gflops": best(lambda: np.matmul(a, b, out=c))}
    try:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty((n, n), dtype=torch.float32)
        result["torch_gflops"] = best(lambda: torch.matmul(ta, tb, out=tc))
    except ImportError:
        result["torch_gflops"] = None
    return result


def small_call_time(calls: int = 20_000, repeats: int = 7) -> float:
    """Median µs of one ``np.add(a, b, out=c)`` on 8-element float32 arrays.

    The per-call cost that the microsecond targets (B, C) are made of; the GEMM peak does
    not show a machine whose cores are slowed by other guests, this does.
    """
    a = np.ones(8, dtype=np.float32)
    b, c = a.copy(), a.copy()
    add = np.add
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            add(a, b, out=c)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return float(np.median(times))


# ------------------------------------------------------------------ output
def format_value(value: float, unit: str) -> str:
    """A target's value: ratios with two decimals (``1.10x``), others with 3 digits."""
    return f"{value:.2f}{unit}" if unit == "x" else f"{value:.3g}{unit}"


def format_seconds(seconds: float) -> str:
    """``1.23 s``, ``45.6 ms`` or ``7.8 µs``."""
    if seconds >= 0.9995:
        return f"{seconds:.3g} s"
    if seconds >= 0.9995e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_case(case: dict[str, Any]) -> list[str]:
    """Markdown table rows for one case: time median (min..max) and paired speedup."""
    rows = []
    for who, result in case["results"].items():
        time_text = (f"{format_seconds(result['median'])} ({format_seconds(result['min'])}.."
                     f"{format_seconds(result['max'])})")
        ratio = case["speedup"].get(who)
        ratio_text = "baseline" if who == case["baseline"] else (
            f"{ratio['median']:.2f}x ({ratio['min']:.2f}..{ratio['max']:.2f})" if ratio else ""
        )
        notes = case["extra"].get("notes", {}).get(who, "")
        rows.append(f"| {case['name']} | {who} | {time_text} | {ratio_text} | {notes} |")
    return rows


TABLE_HEADER = [
    "| case | contestant | time per call: median (min..max) | speedup = peer / glassnet "
    "(paired median, min..max) | notes |",
    "|---|---|---|---|---|",
]


def default_results_path() -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(__file__).resolve().parent / "results" / f"run-{stamp}.json"


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n", encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
