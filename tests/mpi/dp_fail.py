"""Rank script for tests/test_distributed.py: rank 1 raises in epoch 2.

Rank 0 is then waiting in the gradient Allreduce for a rank that will never
come. The job must still end, on every rank, with the error message: through
``python -m mpi4py`` or, when run as a plain script, through the excepthook
that ``DataParallel`` installs (both call ``MPI_Abort``).
"""

from __future__ import annotations

import numpy as np

from glassnet.callbacks import Callback
from glassnet.distributed import DataParallel
from glassnet.layers import Dense
from glassnet.models import Sequential


class FailOnRankOne(Callback):
    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank

    def on_epoch_begin(self, epoch, logs=None):
        if self.rank == 1 and epoch == 1:
            raise RuntimeError("deliberate failure on rank 1 in epoch 2")


def main() -> None:
    dp = DataParallel()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(float)
    model = Sequential([Dense(8, activation="relu", input_dim=4), Dense(1, activation="sigmoid")])
    model.compile(optimizer=dp.optimizer("sgd"), loss="binary_crossentropy")
    X_shard, y_shard = dp.shard(X, y)
    model.fit(X_shard, y_shard, batch_size=4, epochs=5, verbose=0,
              callbacks=dp.callbacks([FailOnRankOne(dp.rank)]))
    print(f"rank {dp.rank} finished training", flush=True)


if __name__ == "__main__":
    main()
