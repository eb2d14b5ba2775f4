"""Rank script for tests/test_distributed.py: several small data-parallel trainings.

Run as ``mpirun -np 2 python -m mpi4py tests/mpi/dp_train.py OUT_DIR``. Each scenario
writes, per rank, the final parameter buffer, the shuffle generator's state
before ``fit`` and the history; rank 0 also writes the weights every rank
starts from (its own, which BroadcastWeights sends to the others). The test
rebuilds the same training on one process and compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from glassnet import config
from glassnet.callbacks import Callback
from glassnet.distributed import DataParallel
from glassnet.layers import Dense
from glassnet.models import Sequential, load_model
from glassnet.optimizers import SGD, Adam
from glassnet.utils import set_random_seed

N_SAMPLES = 91          # 45 rows per rank on 2 ranks; the last row is left out
N_FEATURES, N_CLASSES = 5, 3
BATCH_SIZE = 8          # per rank: 5 full batches and one of 5 rows per epoch
EPOCHS = 5
STOP_AT = (1, 2)        # StopOnOneRank: (epoch, batch) at which rank 1 stops


def make_data():
    """The full data set; every rank builds the same one."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int) + (X[:, 2] > 1.0)
    return X, y


def make_model(seed: int) -> Sequential:
    set_random_seed(seed)
    model = Sequential([
        Dense(16, activation="tanh", input_dim=N_FEATURES),
        Dense(N_CLASSES, activation="softmax"),
    ])
    model.build()
    return model


def make_optimizer(name: str):
    return SGD(learning_rate=0.1, momentum=0.5) if name == "sgd" else Adam(learning_rate=0.01)


class StopOnOneRank(Callback):
    """Stops training on rank 1 only, in the middle of an epoch."""

    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.rank == 1 and (self.epoch, batch) == STOP_AT:
            self.model.request_stop("StopOnOneRank says stop")


def train(dp: DataParallel, out: Path, name: str, optimizer: str, floatx: str, shuffle: bool,
          stop: bool = False, verbose: int = 0) -> None:
    config.set_floatx(floatx)
    X, y = make_data()
    X_shard, y_shard = dp.shard(X, y)
    model = make_model(seed=100 + dp.rank)   # different starting weights on every rank
    if dp.is_chief:
        np.save(out / f"{name}_initial.npy", model.parameters)
    model.compile(optimizer=dp.optimizer(make_optimizer(optimizer)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng_state = model._rng.bit_generator.state
    extra = [StopOnOneRank(dp.rank)] if stop else []
    history = model.fit(X_shard, y_shard, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=shuffle,
                        callbacks=dp.callbacks(extra), verbose=verbose)
    np.save(out / f"{name}_rank{dp.rank}_final.npy", model.parameters)
    record = {
        "rng_state": rng_state,
        "history": history.history,
        "stopped_reason": history.stopped_reason,
        "iterations": model.optimizer.iterations,
        "is_chief": model._is_chief,
        "allreduces": dp.gradient_allreduces,
    }
    (out / f"{name}_rank{dp.rank}.json").write_text(json.dumps(record))


def train_on_batches(dp: DataParallel, out: Path) -> None:
    """A hand-written loop of train_on_batch, with the checks that guard it."""
    X, y = make_data()
    X_shard, y_shard = dp.shard(X, y, layout="contiguous")
    model = make_model(seed=100 + dp.rank)
    model.compile(optimizer=make_optimizer("sgd"), loss="sparse_categorical_crossentropy")
    errors = {}
    try:    # a plain optimizer would let the ranks drift apart
        model.fit(X_shard, y_shard, epochs=1, verbose=0, callbacks=dp.callbacks())
    except ValueError as error:
        errors["plain_optimizer"] = str(error)
    model.compile(optimizer=dp.optimizer(make_optimizer("sgd")),
                  loss="sparse_categorical_crossentropy")
    try:    # weights never broadcast
        model.train_on_batch(X_shard[:BATCH_SIZE], y_shard[:BATCH_SIZE])
    except RuntimeError as error:
        errors["not_broadcast"] = str(error)
    dp.broadcast_model(model)
    for start in range(0, len(X_shard), BATCH_SIZE):
        model.train_on_batch(X_shard[start:start + BATCH_SIZE], y_shard[start:start + BATCH_SIZE])
    np.save(out / f"manual_rank{dp.rank}_final.npy", model.parameters)
    (out / f"manual_rank{dp.rank}.json").write_text(json.dumps(errors))


def resume_on_rank_zero(dp: DataParallel, out: Path) -> None:
    """Rank 0 alone loads a checkpoint (weights and Adam state); every rank resumes from it."""
    X, y = make_data()
    path = out / "checkpoint.glassnet"
    if dp.is_chief:   # a single-process run that saved a checkpoint
        model = make_model(seed=7)
        model.compile(optimizer=make_optimizer("adam"), loss="sparse_categorical_crossentropy")
        model.fit(X, y, batch_size=2 * BATCH_SIZE, epochs=2, verbose=0)
        model.save(path)
        model = load_model(path)
        model.compile(optimizer=dp.optimizer(model.optimizer),
                      loss="sparse_categorical_crossentropy")
    else:             # a fresh model, fresh optimizer
        model = make_model(seed=100 + dp.rank)
        model.compile(optimizer=dp.optimizer(make_optimizer("adam")),
                      loss="sparse_categorical_crossentropy")
    X_shard, y_shard = dp.shard(X, y)
    model.fit(X_shard, y_shard, batch_size=BATCH_SIZE, epochs=1, verbose=0,
              callbacks=dp.callbacks())
    np.save(out / f"resume_rank{dp.rank}_final.npy", model.parameters)
    state = model.optimizer.get_state()
    np.save(out / f"resume_rank{dp.rank}_velocities.npy", state["velocities"])
    (out / f"resume_rank{dp.rank}.json").write_text(
        json.dumps({"iterations": model.optimizer.iterations}))


def main() -> None:
    out = Path(sys.argv[1])
    dp = DataParallel()
    for optimizer in ("sgd", "adam"):
        for floatx in ("float32", "float64"):
            for shuffle in (False, True):
                name = f"{optimizer}-{floatx}-{'shuffle' if shuffle else 'ordered'}"
                train(dp, out, name, optimizer, floatx, shuffle)
    train(dp, out, "stop", "adam", "float32", shuffle=True, stop=True, verbose=2)
    train_on_batches(dp, out)
    resume_on_rank_zero(dp, out)
    config.set_floatx("float32")


if __name__ == "__main__":
    main()
