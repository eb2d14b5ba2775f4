r"""Data-parallel training on many processes and many machines, over MPI.

The idea (Horovod's, and the one behind every large training run): start ``P``
copies of the same script, one per core or machine. Each copy (a *rank*
``r = 0 .. P-1``) holds the whole model and a ``1/P`` share of the data. Every
step, each rank computes the gradient on its own mini-batch, the ranks add their
gradients together with one collective call (``MPI_Allreduce``), divide by ``P``,
and apply the *same* optimizer step. Weights that start equal therefore stay
equal, bit for bit, on every rank.

Why the average of the ranks' gradients is the right gradient
-------------------------------------------------------------
With ``b`` examples per rank, the global batch is ``B = B_0 ∪ ... ∪ B_{P-1}``
with ``|B| = P·b``, and its loss is the mean of the per-example losses::

    J_B = 1/(P·b) · Σ_r Σ_{i ∈ B_r} L_i  =  1/P · Σ_r J_{B_r}

so ``∇J_B = 1/P · Σ_r ∇J_{B_r}``: **sum** the ranks' gradients, divide by ``P``.
This holds because every rank's batch has the same size ``b`` (the last,
shorter batch of an epoch too, since every shard has the same length). Training
on ``P`` ranks with ``batch_size=b`` is then, up to rounding, training on one
process with ``batch_size=P·b``.

Usage (run with ``mpirun -np 4 python -m mpi4py train.py``)::

    from glassnet.distributed import DataParallel

    dp = DataParallel()                        # MPI.COMM_WORLD: dp.rank, dp.size
    X_train, y_train = dp.shard(X, y)          # rows r, r+P, r+2P, ... (views, no copy)
    model.compile(optimizer=dp.optimizer("adam"), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, batch_size=32, epochs=10,
              callbacks=dp.callbacks([EarlyStopping(monitor="loss", patience=2)]),
              verbose=2 if dp.is_chief else 0)

The pieces:

* :meth:`DataParallel.optimizer` wraps any optimizer so that its ``apply``
  first averages the flat gradient buffer over the ranks (one ``Allreduce`` of
  ``n_params`` numbers per step).
* :meth:`DataParallel.shard` gives each rank an equal share of the rows
  (dropping at most ``P - 1`` rows so that every rank runs the same number of
  steps; otherwise the ranks would wait for each other forever).
* :meth:`DataParallel.callbacks` broadcasts rank 0's weights and optimizer state
  when training begins, averages the epoch logs over the ranks (so ``History``
  and the progress line show global values), lets only rank 0 print and save
  checkpoints, and makes all ranks stop at the same step when one wants to stop.
  For a hand-written loop of ``train_on_batch``, call
  :meth:`DataParallel.broadcast_model` once before it instead.

Run without ``mpirun``, the same script is one process (``dp.size == 1``) and
every collective call is skipped.

``mpi4py`` is imported only when a :class:`DataParallel` is created
(``pip install glassnet[mpi]``, plus an MPI library such as Open MPI).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet import optimizers
from glassnet._validation import _describe, check_choice, check_int, check_same_length
from glassnet.backend import require_numpy_model
from glassnet.callbacks import Callback

__all__ = [
    "AgreeToStop",
    "AgreeToStopEachBatch",
    "AverageMetrics",
    "BroadcastWeights",
    "DataParallel",
    "DistributedOptimizer",
    "shard_slice",
]

LAYOUTS = ("interleaved", "contiguous")
_REASON_BYTES = 1024  # longest stop message passed between ranks


def _import_mpi() -> Any:
    """``mpi4py.MPI``, imported on first use (importing it starts MPI)."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "glassnet.distributed needs mpi4py and an MPI library: "
            "pip install 'glassnet[mpi]' (and e.g. apt-get install openmpi-bin libopenmpi-dev). "
            f"Importing mpi4py failed: {exc}"
        ) from exc
    return MPI


# -- sharding -----------------------------------------------------------------------------
def shard_slice(n_samples: int, rank: int, size: int, layout: str = "interleaved") -> slice:
    """The rows of ``n_samples`` that rank ``rank`` of ``size`` trains on, as a slice.

    Every rank gets the same number of rows, ``k = n_samples // size``; the last
    ``n_samples - k·size`` rows (fewer than ``size``) are left out. Equal shards
    give every rank the same number of steps per epoch, which the collective
    calls need: a rank with one extra step would wait for the others forever.

    Parameters
    ----------
    n_samples : int
        Rows of the full data set.
    rank, size : int
        This process's rank ``r`` and the number of ranks ``P``.
    layout : {'interleaved', 'contiguous'}
        ``'interleaved'``: rows ``r, r+P, r+2P, ..., r+(k-1)P``. With
        ``shuffle=False``, global batch ``j`` (every rank's batch ``j``) is then
        exactly rows ``j·P·b .. (j+1)·P·b - 1``, the batch one process would take
        with ``batch_size=P·b``; and data sorted by class is spread evenly.
        ``'contiguous'``: rows ``r·k .. (r+1)·k - 1``, one block per rank (the
        fewest disk pages per rank when the data is a memory-mapped file).

    Returns
    -------
    slice
        ``X[shard_slice(...)]`` is a view of ``X`` (a ``np.memmap`` stays on disk).
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    size = check_int("size", size, minimum=1)
    rank = check_int("rank", rank, minimum=0)
    if rank >= size:
        raise ValueError(f"rank must be in [0, {size - 1}] for size={size}, got {rank}")
    layout = check_choice("layout", layout, LAYOUTS)
    rows_per_rank = n_samples // size
    if rows_per_rank == 0:
        raise ValueError(
            f"Cannot shard {n_samples} samples over {size} ranks: every rank needs at least one "
            f"sample, so at least {size} are needed"
        )
    if layout == "interleaved":
        return slice(rank, rows_per_rank * size, size)
    return slice(rank * rows_per_rank, (rank + 1) * rows_per_rank)


# -- the optimizer ------------------------------------------------------------------------
class DistributedOptimizer(optimizers.Optimizer):
    r"""Mixed into an optimizer's class by :meth:`DataParallel.optimizer`.

    ``apply(params, grads)`` first replaces ``grads`` (the model's one flat
    gradient buffer) by its average over the ranks, in place:

    .. math::

        g \leftarrow \frac{1}{P} \sum_{r=0}^{P-1} g_r

    (``Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)``, then ``grads /= P``), and
    then takes the wrapped optimizer's step (clipping included, so clipping sees
    the averaged gradient). Every rank then applies the same update.

    The object is still an instance of the wrapped class (``isinstance(opt,
    Adam)`` holds), with its hyperparameters, learning-rate schedule and state;
    :meth:`get_config` describes the wrapped optimizer, so a saved model loads
    as an ordinary, single-process one.
    """

    _data_parallel: DataParallel
    _wrapped_class: type[optimizers.Optimizer]

    _weights_broadcast = False   # set by DataParallel.broadcast_model

    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        if not self._weights_broadcast and self._data_parallel.size > 1:
            raise RuntimeError(
                "The ranks' weights were never made equal, so averaging their gradients "
                "would not keep them equal: pass callbacks=dp.callbacks([...]) to fit, or call "
                "dp.broadcast_model(model) before training with train_on_batch"
            )
        self._data_parallel.average_gradients(grads)
        super().apply(params, grads)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["class_name"] = self._wrapped_class.__name__
        return config

    def __repr__(self) -> str:
        return f"Distributed({super().__repr__()}, size={self._data_parallel.size})"


# -- the communicator ---------------------------------------------------------------------
class DataParallel:
    """One rank of a data-parallel job: its place (``rank``, ``size``) and the collectives.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD`` (every process ``mpirun`` started).
    abort_on_error : bool, default True
        With more than one rank, an exception that nobody catches on one rank
        prints its traceback and then calls ``MPI_Abort``, which ends every rank.
        Without it the other ranks would wait forever in their next collective
        call. (``python -m mpi4py script.py`` does the same.)

    Attributes
    ----------
    rank : int
        This process's number, ``0 .. size-1``.
    size : int
        The number of processes ``P``.
    is_chief : bool
        ``rank == 0``: the rank that prints and writes checkpoints.
    MPI : module
        ``mpi4py.MPI``.
    communication_seconds : float
        Time spent averaging gradients so far (waiting for slower ranks included).
    gradient_allreduces : int
        How many gradient buffers were averaged.
    """

    def __init__(self, comm: Any = None, *, abort_on_error: bool = True) -> None:
        self.MPI = _import_mpi()
        if comm is None:
            comm = self.MPI.COMM_WORLD
        elif not isinstance(comm, self.MPI.Comm):
            raise TypeError(f"comm must be an mpi4py communicator, got {_describe(comm)}")
        self.comm = comm
        self.rank = int(comm.Get_rank())
        self.size = int(comm.Get_size())
        self.communication_seconds = 0.0
        self.gradient_allreduces = 0
        if abort_on_error and self.size > 1:
            _abort_all_ranks_on_uncaught_exception(comm, self.rank, self.size)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        return f"<DataParallel rank={self.rank} size={self.size}>"

    # ---------------------------------------------------------------- collectives
    def average_in_place(self, buffer: np.ndarray) -> np.ndarray:
        """``buffer ← (1/P) Σ_r buffer_r`` on every rank; returns ``buffer``.

        Parameters
        ----------
        buffer : ndarray
            C-contiguous; the same shape and dtype on every rank.
        """
        if self.size > 1:
            self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
            buffer /= self.size
        return buffer

    def average(self, value: Any) -> Any:
        """The mean over the ranks of a number or an array (a float stays a float)."""
        array = np.array(value, dtype=np.float64, ndmin=1, order="C")
        self.average_in_place(array)
        return float(array[0]) if np.ndim(value) == 0 else array.reshape(np.shape(value))

    def broadcast_in_place(self, buffer: np.ndarray, root: int = 0) -> np.ndarray:
        """Copy rank ``root``'s ``buffer`` into ``buffer`` on every rank; returns ``buffer``."""
        if self.size > 1:
            self.comm.Bcast(buffer, root=root)
        return buffer

    def average_gradients(self, grads: np.ndarray) -> None:
        """:meth:`average_in_place` for the gradient buffer, timed."""
        if self.size == 1:
            return
        start = time.perf_counter()
        self.average_in_place(grads)
        self.communication_seconds += time.perf_counter() - start
        self.gradient_allreduces += 1

    def _min_max(self, value: int) -> tuple[int, int]:
        """The smallest and largest ``value`` over the ranks."""
        if self.size == 1:
            return value, value
        low = np.array([value], dtype=np.int64)
        high = low.copy()
        self.comm.Allreduce(self.MPI.IN_PLACE, low, op=self.MPI.MIN)
        self.comm.Allreduce(self.MPI.IN_PLACE, high, op=self.MPI.MAX)
        return int(low[0]), int(high[0])

    def broadcast_model(self, model: Any, root: int = 0) -> None:
        """Make every rank's model equal to rank ``root``'s: parameters and optimizer state.

        :class:`BroadcastWeights` calls this when ``fit`` begins; call it yourself
        before a loop of ``model.train_on_batch``. Also sets ``model._is_chief``
        (only rank 0 prints and writes checkpoints).
        """
        require_numpy_model(model, "glassnet.distributed")  # MPI sends the NumPy buffers
        model._is_chief = self.is_chief
        model._require_built("broadcast its weights")
        fewest, most = self._min_max(model.parameters.size)
        if fewest != most:
            raise ValueError(
                f"The ranks' models have between {fewest} and {most} parameters: every rank "
                "must build the same model"
            )
        self.broadcast_in_place(model.parameters, root)
        optimizer = model.optimizer
        if optimizer is None:
            return
        if self.size > 1 and not isinstance(optimizer, DistributedOptimizer):
            raise ValueError(
                f"model.optimizer is a plain {type(optimizer).__name__}: the ranks would each "
                "follow their own gradients. Compile with optimizer=dp.optimizer(...)"
            )
        if not optimizer.built:
            optimizer.build(model._trainable_buffer(), model.segments)
        state = optimizer.get_state()
        for name in sorted(state):
            shape = np.shape(state[name])
            flat = np.ascontiguousarray(state[name]).reshape(-1)   # 0-d arrays become 1-d
            state[name] = self.broadcast_in_place(flat, root).reshape(shape)
        optimizer.set_state(state)
        if isinstance(optimizer, DistributedOptimizer):
            optimizer._weights_broadcast = True

    # ---------------------------------------------------------------- building blocks
    def optimizer(self, optimizer: Any = "adam") -> optimizers.Optimizer:
        """Wrap an optimizer so that every step averages the gradients over the ranks.

        Parameters
        ----------
        optimizer : str, Optimizer or dict
            Anything ``model.compile(optimizer=...)`` accepts: ``'adam'``,
            ``SGD(learning_rate=0.1 * dp.size)``, ... An instance is taken over:
            use the returned optimizer instead of it.

        Returns
        -------
        Optimizer
            A :class:`DistributedOptimizer` that is also an instance of the
            wrapped class.
        """
        base = optimizers.get(optimizer)
        if isinstance(base, DistributedOptimizer):
            if base._data_parallel is not self:
                raise ValueError("This optimizer is already distributed by another DataParallel")
            return base
        wrapped_class = type(base)
        distributed_class = type(
            f"Distributed{wrapped_class.__name__}", (DistributedOptimizer, wrapped_class), {}
        )
        distributed: DistributedOptimizer = object.__new__(distributed_class)
        distributed.__dict__.update(vars(base))
        distributed._data_parallel = self
        distributed._wrapped_class = wrapped_class
        return distributed

    def shard(self, *arrays: Any, layout: str = "interleaved") -> Any:
        """This rank's equal share of the rows of each array (see :func:`shard_slice`).

        Parameters
        ----------
        *arrays : array-like of shape (n_samples, ...)
            ``X``, ``y``, ``sample_weight``, ... with the same number of rows.
            NumPy arrays and ``np.memmap`` files are sliced without copying, so
            a rank reads only its own rows from disk (when ``fit`` converts them).
        layout : {'interleaved', 'contiguous'}

        Returns
        -------
        ndarray or tuple of ndarray
            One array per argument, each with ``n_samples // size`` rows.
        """
        if not arrays:
            raise TypeError("shard needs at least one array, e.g. dp.shard(X, y)")
        views = []
        for index, array in enumerate(arrays):
            if not isinstance(array, np.ndarray):
                array = np.asarray(array)
            if array.ndim == 0:
                raise ValueError(
                    f"arrays[{index}] must have one row per sample, got a scalar {array!r}"
                )
            views.append(array)
        check_same_length(**{f"arrays[{index}]": array for index, array in enumerate(views)})
        rows = shard_slice(len(views[0]), self.rank, self.size, layout)
        sharded = tuple(array[rows] for array in views)
        return sharded[0] if len(sharded) == 1 else sharded

    def callbacks(
        self, callbacks: Sequence[Callback] | None = None, root: int = 0
    ) -> list[Callback]:
        """The callbacks data-parallel ``fit`` needs, around your own.

        Returns ``[BroadcastWeights, AverageMetrics, *callbacks, AgreeToStop]``:

        1. :class:`BroadcastWeights` copies rank ``root``'s weights and optimizer
           state to every rank when training begins, and lets only rank 0 print;
        2. :class:`AverageMetrics` replaces each epoch-end log value by its mean
           over the ranks, so your callbacks, the progress line and ``History``
           all see global values (and every rank makes the same decisions);
        3. your ``callbacks``;
        4. :class:`AgreeToStop`, after yours: if any rank set
           ``model.stop_training`` (``EarlyStopping``, ``TimeLimit``, ...), every
           rank stops at the same step. If one of your callbacks acts after each
           batch, it checks after every batch (one tiny extra ``Allreduce`` per step).

        Parameters
        ----------
        callbacks : list of Callback, optional
        root : int
            The rank whose weights every rank starts from.
        """
        root = check_int("root", root, minimum=0)
        if root >= self.size:
            raise ValueError(f"root must be a rank in [0, {self.size - 1}], got {root}")
        user_callbacks = list(callbacks or [])
        for callback in user_callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "callbacks must be glassnet.callbacks.Callback instances, got "
                    f"{_describe(callback)}"
                )
        acts_per_batch = any(
            getattr(type(c), hook) is not getattr(Callback, hook)
            for c in user_callbacks
            for hook in ("on_train_batch_begin", "on_train_batch_end")
        )
        stop = AgreeToStopEachBatch(self) if acts_per_batch else AgreeToStop(self)
        return [BroadcastWeights(self, root), AverageMetrics(self), *user_callbacks, stop]


def _abort_all_ranks_on_uncaught_exception(comm: Any, rank: int, size: int) -> None:
    """Install a ``sys.excepthook`` that prints the error, then ends the whole job."""
    previous_hook = sys.excepthook

    def abort(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        try:
            previous_hook(kind, error, trace)
            print(
                f"glassnet.distributed: rank {rank} of {size} failed with the error above; "
                "aborting every rank (MPI_Abort)",
                file=sys.stderr,
                flush=True,
            )
        finally:
            comm.Abort(1)

    sys.excepthook = abort


# -- callbacks ----------------------------------------------------------------------------
class BroadcastWeights(Callback):
    """At the start of ``fit``, every rank takes rank ``root``'s parameters and optimizer state.

    Models built on different ranks start from different random weights (unless
    every rank set the same seed); after this broadcast they are identical, and
    since every step applies the same averaged gradient they stay identical.
    The optimizer state (step count, Adam's moments, ...) is broadcast too, so
    a checkpoint loaded on rank 0 only is resumed by every rank (given the same
    ``initial_epoch`` everywhere).
    It also sets ``model._is_chief``: only rank 0 prints progress and messages,
    and only rank 0 writes ``ModelCheckpoint`` files.
    """

    def __init__(self, data_parallel: DataParallel, root: int = 0) -> None:
        super().__init__()
        self.data_parallel = data_parallel
        self.root = root

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.data_parallel.broadcast_model(self.model, self.root)


class AverageMetrics(Callback):
    """At the end of each epoch, replace every value in ``logs`` by its mean over the ranks.

    ``loss`` and the accuracies are means over each rank's examples; with equal
    shards the mean of the ranks' means is the mean over all examples, so the
    result is exact. For metrics that are not means (precision, recall, AUC,
    RMSE) it is the average of the per-rank values, an approximation.
    The running values in the progress bar during an epoch are rank 0's own.
    """

    def __init__(self, data_parallel: DataParallel) -> None:
        super().__init__()
        self.data_parallel = data_parallel

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None or self.data_parallel.size == 1:
            return
        names = sorted(logs)
        values = np.array([logs[name] for name in names], dtype=np.float64)
        self.data_parallel.average_in_place(values)
        logs.update(zip(names, values.tolist(), strict=True))


class AgreeToStop(Callback):
    """At each epoch end, if any rank set ``model.stop_training``, every rank stops.

    ``fit`` stops a rank whose ``model.stop_training`` is true; if only one rank
    stopped, the others would wait forever for its gradients. Here the ranks
    vote (``Allreduce`` with ``MIN`` of the ranks that want to stop) and all
    follow the lowest such rank.
    """

    def __init__(self, data_parallel: DataParallel) -> None:
        super().__init__()
        self.data_parallel = data_parallel

    def _agree(self) -> None:
        dp, model = self.data_parallel, self.model
        if dp.size == 1:
            return
        first_to_stop = np.array([dp.rank if model.stop_training else dp.size], dtype=np.int64)
        dp.comm.Allreduce(dp.MPI.IN_PLACE, first_to_stop, op=dp.MPI.MIN)
        stopper = int(first_to_stop[0])
        if stopper == dp.size:
            return
        # The stopping rank tells the others why (as UTF-8 bytes; no pickling).
        reason = np.zeros(_REASON_BYTES, dtype=np.uint8)
        if dp.rank == stopper:
            encoded = (model.stop_reason or "").encode()[:_REASON_BYTES]
            reason[: len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
        dp.broadcast_in_place(reason, root=stopper)
        if model.stop_training:
            return
        text = reason.tobytes().rstrip(b"\0").decode(errors="replace")
        self._stop(f"Rank {stopper} stopped training: {text or 'no reason given'}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._agree()


class AgreeToStopEachBatch(AgreeToStop):
    """:class:`AgreeToStop` after every batch too (for callbacks that stop mid-epoch)."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._agree()
