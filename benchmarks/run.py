"""glassnet's speed suite: glassnet against PyTorch, scikit-learn and Keras on this machine.

Usage::

    python benchmarks/run.py [--quick] [--only A,B,...] [--repeats 7] [--json out.json]
                             [--mnist PATH] [--threads N]
    python benchmarks/run.py --report benchmarks/results/run-....json   # tables again

Workloads (see benchmarks/README.md)::

    A  MNIST-shaped MLP training, one epoch at batch 32 / 128 / 512
    B  the articles' circles network: µs per step, and the whole script vs Keras
    C  inference: predict on 10,000 rows, single-row latency
    D  real MNIST (8k/2k split of the 10k test set): accuracy and time
    E  peak memory of a training epoch, each library in a fresh process

The tables go to stdout (Markdown), progress to stderr, and everything measured
to a JSON file (default ``benchmarks/results/run-<time>.json``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _harness  # noqa: E402
from workloads.common import Settings  # noqa: E402

WORKLOADS = {
    "A": "workloads.mnist_mlp",
    "B": "workloads.circles",
    "C": "workloads.inference",
    "D": "workloads.real_mnist",
    "E": "workloads.memory",
    "smoke": "workloads.smoke",
}
DEFAULT = ("A", "B", "C", "D", "E")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="glassnet's speed suite (paired, interleaved timings; see benchmarks/README.md)",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 3 rounds: checks the suite works, in about a minute")
    parser.add_argument("--only", default=",".join(DEFAULT),
                        help="comma-separated workloads among A,B,C,D,E (default: all)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per comparison (default 7, or 3 with --quick)")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results (default benchmarks/results/run-<time>.json)")
    parser.add_argument("--mnist", default=None,
                        help="directory with the MNIST IDX files for D (default ../shared/data/mnist)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads for NumPy (and PyTorch); default: leave NumPy's as found")
    parser.add_argument("--report", type=Path, default=None, metavar="RESULTS.json",
                        help="print the tables of an earlier run's JSON file; runs nothing")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose among {', '.join(DEFAULT)}")
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def print_workload(name: str, result: dict[str, Any]) -> None:
    print(f"\n### {result['title']}\n")
    if result.get("skipped"):
        print(result["skipped"])
        return
    if result.get("cases"):
        print("\n".join(_harness.TABLE_HEADER))
        for case in result["cases"]:
            print("\n".join(_harness.format_case(case)))
    memory = result.get("memory")
    if memory:
        print("| library | peak memory added by training: median (min..max) | sampled |")
        print("|---|---|---|")
        for who, peak in memory["peak_mb"].items():
            sampled = memory["sampled_peak_mb"][who]
            print(f"| {who} | {peak['median']:.1f} MB ({peak['min']:.1f}..{peak['max']:.1f}) | "
                  f"{sampled['median']:.1f} MB |")
    for target in result["targets"]:
        print(f"- {target['status']} {target['name']}: {_shown(target)}")


def _shown(target: dict[str, Any]) -> str:
    sign = ">=" if target["higher_is_better"] else "<="
    value = "n/a" if target["value"] is None else _harness.format_value(target["value"],
                                                                         target["unit"])
    return f"{value} (target {sign} {target['threshold']:g}{target['unit']})"


def print_report(report: dict[str, Any]) -> None:
    """The tables of a finished run (``--report``)."""
    print(f"Machine: {report['machine_line']}")
    peak = report["peak"]
    print(f"float32 GEMM peak: NumPy {peak['numpy_gflops']:.0f} GFLOP/s"
          + (f", at the end {peak['at_end']['numpy_gflops']:.0f}" if "at_end" in peak else ""))
    small_call = report.get("small_call_us")
    if small_call:
        print(f"NumPy small-call time: {small_call['start_us']:.3f} µs at the start, "
              f"{small_call['end_us']:.3f} at the end")
    load = report["machine"].get("load_average_end") or []
    print(f"Run {report['started']}, {report['repeats']} rounds"
          + (" (--quick)" if report["quick"] else "") + f", {report['elapsed_s']:.0f} s; load "
          f"average at the end {' '.join(f'{x:.2f}' for x in load)}")
    for name, result in report["workloads"].items():
        print_workload(name, result)
    print("\n### Targets\n")
    for target in report["targets"]:
        print(f"- {target['status']} [{target['workload']}] {target['name']}: {_shown(target)}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.report is not None:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        print_report(report)
        return report
    started = time.time()
    threads = _harness.set_threads(args.threads)
    machine = _harness.machine_info()
    print(f"Machine: {_harness.machine_line(machine)}")
    load = machine.get("load_average")
    if load and load[0] > (machine.get("cores") or 1) * 0.75:
        warning = (f"warning: the machine is busy (load average {load[0]:.1f} on "
                   f"{machine.get('cores')} cores): times will be inflated and noisy")
        if threads > 1:
            warning += ("; multi-threaded BLAS is hit hardest (threads wait for each other), "
                        "consider --threads 1")
        print(warning)
        machine["warning"] = warning
    _harness.log("measuring the float32 matmul peak ...")
    peak = _harness.matmul_peak(n=512 if args.quick else 2048, repeats=3 if args.quick else 7)
    torch_peak = peak.get("torch_gflops")
    print(f"float32 GEMM peak ({peak['n']}x{peak['n']}): NumPy {peak['numpy_gflops']:.0f} GFLOP/s"
          + (f", PyTorch {torch_peak:.0f} GFLOP/s" if torch_peak else ""))
    small_call = {"start_us": _harness.small_call_time()}
    print(f"NumPy small-call time: {small_call['start_us']:.3f} µs (one np.add on 8 floats; the "
          "µs targets of B and C scale with it)")
    settings = Settings(quick=args.quick, repeats=args.repeats,
                        peak_gflops=peak["numpy_gflops"], mnist_path=args.mnist, threads=threads)
    workloads: dict[str, Any] = {}
    targets: list[dict[str, Any]] = []
    for name in args.only:
        result = importlib.import_module(WORKLOADS[name]).run(settings)
        result["targets"] = [target.to_json() for target in result["targets"]]
        workloads[name] = result
        targets += result["targets"]
        print_workload(name, result)
        sys.stdout.flush()
    machine["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    small_call["end_us"] = _harness.small_call_time()
    print(f"\nNumPy small-call time at the end: {small_call['end_us']:.3f} µs "
          f"(at the start {small_call['start_us']:.3f})")
    if not args.quick:
        # The peak again at the end: on a busy machine the first measurement can be low,
        # and the higher of the two is the better estimate of what the BLAS can do.
        _harness.log("measuring the float32 matmul peak again ...")
        peak["at_end"] = _harness.matmul_peak(n=2048, repeats=7)
        print(f"\nfloat32 GEMM peak again at the end: NumPy "
              f"{peak['at_end']['numpy_gflops']:.0f} GFLOP/s (fractions of peak above use the "
              f"first, {peak['numpy_gflops']:.0f})")
    report = {
        "suite": "glassnet speed",
        "format": 1,
        "command": [sys.executable, *sys.argv] if argv is None else ["run.py", *argv],
        "quick": args.quick,
        "repeats": args.repeats,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "elapsed_s": time.time() - started,
        "machine": machine,
        "machine_line": _harness.machine_line(machine),
        "peak": peak,
        "small_call_us": small_call,
        "workloads": workloads,
        "targets": targets,
    }
    print("\n### Targets\n")
    for target in targets:
        print(f"- {target['status']} [{target['workload']}] {target['name']}: {_shown(target)}")
    path = args.json or _harness.default_results_path()
    _harness.write_json(report, path)
    _harness.log(f"results written to {path} ({report['elapsed_s']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
