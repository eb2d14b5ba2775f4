"""Data-parallel scaling: samples/s on 1 and 2 ranks, and what the Allreduce costs.

Usage::

    python benchmarks/scaling.py                  # launches the mpirun jobs itself
    python benchmarks/scaling.py --ranks 1 2 4 --batch-sizes 32 128 --repeats 5

The model is the MLP 784-256-128-10 (235,146 parameters, so each step's
gradient Allreduce moves 235,146 x 4 bytes = 0.94 MB in float32) with Adam,
on random MNIST-shaped data (16,384 rows). Weak scaling, as in Horovod's
benchmarks: the batch per rank stays fixed, so the global batch is ranks x that.

Fairness: every rank runs with ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``,
including the 1-rank baseline, so P ranks use P cores. A last row shows one
process with as many BLAS threads as there are cores, the usual way to use a
single machine, for comparison.

For each run, rank 0 reports:

* ``samples/s``: examples per second over all ranks, in the fastest epoch of the fastest
  of ``--repeats`` runs (runs of all settings interleaved), after a few warm-up steps:
  other programs on the machine can only slow a run down, so the fastest is the
  least disturbed;
* ``allreduce``: seconds per step inside the gradient Allreduce (``dp.communication_seconds``),
  which includes waiting for the slower rank, and its share of the step time;
* ``pure allreduce``: the same buffer reduced 20 times in a row with no training (fastest
  of 10 such blocks), i.e. the transfer itself without any waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

N_SAMPLES = 16_384
LAYERS = (784, 256, 128, 10)


def worker(args: argparse.Namespace) -> None:
    """One rank: train, time each epoch, and (rank 0) print a JSON line with the numbers."""
    import numpy as np

    from glassnet.callbacks import Callback
    from glassnet.distributed import DataParallel
    from glassnet.layers import Dense
    from glassnet.models import Sequential
    from glassnet.utils import set_random_seed

    class EpochTimer(Callback):
        """Wall time and time inside the gradient Allreduce, per epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.communication: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.communication_start = dp.communication_seconds

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            self.communication.append(dp.communication_seconds - self.communication_start)

    dp = DataParallel()
    set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.random((N_SAMPLES, LAYERS[0]), dtype=np.float32)
    y = rng.integers(0, LAYERS[-1], size=N_SAMPLES)
    X_shard, y_shard = dp.shard(X, y)

    model = Sequential([Dense(LAYERS[1], activation="relu", input_dim=LAYERS[0]),
                        Dense(LAYERS[2], activation="relu"),
                        Dense(LAYERS[3], activation="softmax")])
    model.compile(optimizer=dp.optimizer("adam"), loss="sparse_categorical_crossentropy")
    warm_up = 8 * args.batch_size
    model.fit(X_shard[:warm_up], y_shard[:warm_up], batch_size=args.batch_size, verbose=0,
              callbacks=dp.callbacks())
    timer = EpochTimer()
    model.fit(X_shard, y_shard, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
              callbacks=dp.callbacks([timer]))
    steps = -(-len(X_shard) // args.batch_size)
    # Per epoch, the slowest rank's times; then the fastest epoch (least disturbed by
    # other programs on the machine).
    seconds = np.array([timer.seconds, timer.communication])
    dp.comm.Allreduce(dp.MPI.IN_PLACE, seconds, op=dp.MPI.MAX)
    fastest = int(np.argmin(seconds[0]))
    elapsed, communication = seconds[:, fastest]

    # The Allreduce alone, same buffer, no training in between: 10 blocks of 20, fastest block.
    grads = np.ones(model._n_trainable, dtype=np.float32)
    pure = 0.0
    if dp.size > 1:
        blocks = np.zeros(10)
        for block in range(len(blocks)):
            dp.comm.Barrier()
            start = time.perf_counter()
            for _ in range(20):
                dp.average_in_place(grads)
            blocks[block] = (time.perf_counter() - start) / 20
        dp.comm.Allreduce(dp.MPI.IN_PLACE, blocks, op=dp.MPI.MAX)
        pure = float(blocks.min())

    if dp.is_chief:
        print("RESULT " + json.dumps({
            "ranks": dp.size,
            "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
            "batch_per_rank": args.batch_size,
            "params": int(model._n_trainable),
            "samples_per_s": len(X_shard) * dp.size / elapsed,
            "step_ms": 1e3 * elapsed / steps,
            "allreduce_ms": 1e3 * communication / steps,
            "pure_allreduce_ms": 1e3 * pure,
        }), flush=True)


def launch(ranks: int, threads: int, batch_size: int, epochs: int) -> dict:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = ["mpirun", "-np", str(ranks), "--oversubscribe",
               *(["--bind-to", "none"] if threads > 1 else []),
               sys.executable, "-m", "mpi4py", os.path.abspath(__file__), "--worker",
               "--batch-size", str(batch_size), "--epochs", str(epochs)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=4,
                        help="timed epochs per run; the fastest is reported")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per setting, interleaved; the fastest is reported")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if shutil.which("mpirun") is None:
        sys.exit("mpirun not found: run .ci/install-mpi.sh (Open MPI + mpi4py) first")
    cores = os.cpu_count() or 1
    print(f"MLP {'-'.join(map(str, LAYERS))}, Adam, float32, {N_SAMPLES} rows; {cores} cores; "
          f"1 BLAS thread per rank unless noted; fastest epoch of {args.epochs} x "
          f"{args.repeats} runs; "
          f"load average before: {os.getloadavg()[0]:.2f}\n")
    header = (f"{'ranks':>5} {'threads':>7} {'batch/rank':>10} {'samples/s':>10} {'speed-up':>8} "
              f"{'step ms':>8} {'allreduce ms':>12} {'share':>6} {'pure allreduce ms':>17}")
    print(header)
    for batch_size in args.batch_sizes:
        settings = [(ranks, 1) for ranks in args.ranks] + [(1, cores)] * (cores > 1)
        best: dict[tuple[int, int], dict] = {}
        for _ in range(args.repeats):                       # interleaved, so that other load
            for setting in settings:                        # on the machine hits all alike
                run = launch(*setting, batch_size, args.epochs)
                if setting not in best or run["samples_per_s"] > best[setting]["samples_per_s"]:
                    best[setting] = run
        baseline = best[settings[0]]["samples_per_s"]
        for ranks, threads in settings:
            r = best[(ranks, threads)]
            share = r["allreduce_ms"] / r["step_ms"]
            pure = f"{r['pure_allreduce_ms']:.3f}" if ranks > 1 else "-"
            print(f"{ranks:>5} {threads:>7} {batch_size:>10} {r['samples_per_s']:>10.0f} "
                  f"{r['samples_per_s'] / baseline:>7.2f}x {r['step_ms']:>8.3f} "
                  f"{r['allreduce_ms']:>12.3f} {share:>6.1%} {pure:>17}", flush=True)
        print()
    params = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    print(f"Allreduce per step: {params} parameters x 4 bytes = {params * 4 / 1e6:.2f} MB (float32)")


if __name__ == "__main__":
    main()
