r"""Metrics: the numbers reported while training, accumulated over an epoch.

A metric keeps a running state, as in Keras::

    metric.reset_state()                        # start of an epoch
    metric.update_state(y_true, y_pred, w)      # after every batch (cheap: a few ufuncs)
    metric.result()                             # any time: the value over all batches so far

Shapes: ``y_pred`` is ``(m, k)`` (``(m,)`` is read as ``(m, 1)``); ``y_true`` is the
same, or ``(m,)`` class ids for the ``sparse_`` metrics; ``sample_weight`` is ``(m,)``.

Most metrics are a weighted mean of one value ``v_i`` per example, over every
example seen since the last reset::

    result = Σ_i w_i v_i / Σ_i w_i

(accuracy: ``v_i = 1`` when example ``i`` is right; MSE: ``v_i = (1/k) Σ_j (ŷ_ij - y_ij)²``).
Precision, recall and AUC instead accumulate weighted counts of true/false positives.

Backends
--------
``update_state`` accepts arrays of the active backend (:mod:`glassnet.backend`),
NumPy arrays or lists. The per-sample values and the counts of precision and recall
are computed with ``xp`` where the arrays are; only Python floats (the running sums)
come back to the host. AUC is the exception: histograms (``bincount``) and sorting are
not in the array API, so it copies each batch's scores, labels and weights to the host
once and counts with NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet import losses
from glassnet._validation import check_choice, check_float, check_int
from glassnet.backend import dtype_name, on_backend, to_numpy, xp
from glassnet.losses import (
    _as_rows,
    _class_ids,
    _pick,
    _sigmoid,
    mean_over_outputs,
    sample_weight_vector,
)


def _as_float64(values: Any) -> Any:
    """``values`` (array of the backend, NumPy array, list or number) as a float64 array of
    the active backend: running sums are accumulated in double precision."""
    if isinstance(values, xp.array_type):
        return values if dtype_name(values) == "float64" else xp.astype(values, xp.float64)
    return xp.from_numpy(np.asarray(values, dtype=np.float64))


# --------------------------------------------------------------------------- per-sample values
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Fraction of the ``k`` outputs where ``(ŷ > threshold) == (y > ½)``; shape ``(m,)``.

    Keras compares with ``y`` itself; comparing with ``y > ½`` gives the same for 0/1
    labels and stays right for smoothed labels (0.1/0.9). With ``threshold=0`` and
    raw scores it also reads ``{-1, 1}`` labels (hinge loss) correctly.
    """
    y_true, y_pred = _as_rows(y_true, y_pred)
    right = (y_pred > threshold) == (y_true > 0.5)
    return mean_over_outputs(xp.astype(right, xp.float64))


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``argmax ŷ_i == argmax y_i`` (one-hot targets), else 0.0; shape ``(m,)``."""
    y_true, y_pred = _as_rows(y_true, y_pred)
    return xp.astype(xp.argmax(y_true, axis=1) == xp.argmax(y_pred, axis=1), xp.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``argmax ŷ_i == c_i`` (class ids ``c``), else 0.0; shape ``(m,)``."""
    predicted = xp.argmax(on_backend(y_pred), axis=1)
    return xp.astype(_class_ids(y_true) == predicted, xp.float64)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the true class ``c_i`` is among the ``k`` highest scores; shape ``(m,)``.

    "Among the top k" means fewer than ``k`` classes score strictly higher than
    ``c_i`` (ties count in favour, as TensorFlow's ``in_top_k`` does).
    """
    y_pred = on_backend(y_pred)
    true_scores = _pick(y_pred, _class_ids(y_true))                    # ŷ_{i, c_i}
    n_higher = xp.count_nonzero(y_pred > xp.reshape(true_scores, (-1, 1)), axis=1)
    return xp.astype(n_higher < k, xp.float64)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """:func:`sparse_top_k_categorical_accuracy` with one-hot targets; shape ``(m,)``."""
    return sparse_top_k_categorical_accuracy(xp.argmax(on_backend(y_true), axis=1), y_pred, k)


_MSE = losses.MeanSquaredError()
_MAE = losses.MeanAbsoluteError()


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``(1/k) Σ_j (ŷ_ij - y_ij)²``; shape ``(m,)``."""
    return _MSE.per_sample(y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``(1/k) Σ_j |ŷ_ij - y_ij|``; shape ``(m,)``."""
    return _MAE.per_sample(y_true, y_pred)


# --------------------------------------------------------------------------- base classes
class Metric:
    """Base class: a running value, updated batch by batch.

    Parameters
    ----------
    name : str, optional
        The key in ``history.history`` and in the progress bar.
    """

    default_name = "metric"

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r} ({type(name).__name__})")
        self.name = self.default_name if name is None else name
        self.reset_state()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch to the running state."""
        raise NotImplementedError

    def result(self) -> float:
        """The value over all batches since the last :meth:`reset_state`."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget every batch seen so far."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """``{'class_name': ..., 'name': ..., **arguments}``; ``get(config)`` rebuilds it."""
        return {"class_name": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"


class Mean(Metric):
    """Running weighted mean: ``Σ w·v / Σ w`` over every value passed in.

    The model uses it to average the batch losses over an epoch
    (``update_state(batch_loss, sample_weight=batch_size)``).
    """

    default_name = "mean"

    def reset_state(self) -> None:
        self.total = 0.0   # Σ w v
        self.count = 0.0   # Σ w

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Add ``values`` (a number or an array) with weights ``sample_weight`` (default 1)."""
        values = _as_float64(values)
        if sample_weight is None:
            self.total += float(xp.sum(values))
            self.count += math.prod(values.shape)
        else:
            weights = _as_float64(sample_weight)
            if weights.shape != values.shape:
                weights = weights + xp.zeros_like(values)  # broadcast to the shape of values
            self.total += float(xp.vdot(weights, values))
            self.count += float(xp.sum(weights))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """Weighted mean of a per-sample function ``fn(y_true, y_pred, **kwargs) -> (m,)``.

    Wraps a user function given to ``compile(metrics=[fn])``; the built-in mean metrics
    below are subclasses.
    """

    def __init__(
        self, fn: Callable[..., np.ndarray], name: str | None = None, **kwargs: Any
    ) -> None:
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        values = _as_float64(self._fn(y_true, y_pred, **self._fn_kwargs))
        super().update_state(values, sample_weight_vector(sample_weight, values.shape[0]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}


# --------------------------------------------------------------------------- mean metrics
class BinaryAccuracy(MeanMetricWrapper):
    """Share of outputs with ``(ŷ > threshold) == (y > ½)`` (see :func:`binary_accuracy`).

    Parameters
    ----------
    threshold : float
        0.5 for probabilities; 0.0 for logits (``from_logits=True``) or hinge scores.
    """

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        threshold = check_float("threshold", threshold)
        super().__init__(binary_accuracy, name=name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """Share of examples whose highest score is the one-hot target's class."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Share of examples whose highest score is the target class id."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """Share of examples whose one-hot target class is among the ``k`` highest scores."""

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(top_k_categorical_accuracy, name=name, k=check_int("k", k))


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """Share of examples whose target class id is among the ``k`` highest scores."""

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(sparse_top_k_categorical_accuracy, name=name, k=check_int("k", k))


class MeanSquaredError(MeanMetricWrapper):
    """Weighted mean over examples of ``(1/k) Σ_j (ŷ_j - y_j)²``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Weighted mean over examples of ``(1/k) Σ_j |ŷ_j - y_j|``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(mean_absolute_error, name=name)


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt(MSE)`` over everything seen (the root of the mean, not a mean of roots)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name or "root_mean_squared_error")

    def result(self) -> float:
        return math.sqrt(super().result())


# --------------------------------------------------------------------------- counting metrics
class _ThresholdCounts(Metric):
    """Weighted counts of true positives, false positives and false negatives.

    An output is predicted positive when ``ŷ > threshold`` and is actually positive
    when ``y > ½``. With ``k > 1`` outputs (one-hot or multi-label targets) every
    output counts, i.e. the counts are summed over classes ("micro" averaging, as
    Keras does). Each example's outputs carry its sample weight.
    """

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        self.threshold = check_float("threshold", threshold)
        super().__init__(name=name)

    def reset_state(self) -> None:
        self.true_positives = 0.0
        self.false_positives = 0.0
        self.false_negatives = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = _as_rows(y_true, y_pred)
        predicted = y_pred > self.threshold
        actual = y_true > 0.5
        weights = sample_weight_vector(sample_weight, y_pred.shape[0])
        for attribute, hits in (
            ("true_positives", predicted & actual),
            ("false_positives", predicted & ~actual),
            ("false_negatives", actual & ~predicted),
        ):
            per_sample = xp.count_nonzero(hits, axis=1)          # hits of each example
            if weights is None:
                total = xp.sum(per_sample)
            else:
                total = xp.vdot(_as_float64(weights), xp.astype(per_sample, xp.float64))
            setattr(self, attribute, getattr(self, attribute) + float(total))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


class Precision(_ThresholdCounts):
    """``TP / (TP + FP)``: of the outputs predicted positive, the share that are (0 if none)."""

    default_name = "precision"

    def result(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0


class Recall(_ThresholdCounts):
    """``TP / (TP + FN)``: of the positive outputs, the share predicted positive (0 if none)."""

    default_name = "recall"

    def result(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0


class AUC(Metric):
    r"""Area under the ROC curve (true-positive rate against false-positive rate).

    Two ways to compute it:

    * ``num_thresholds=200`` (default, as Keras): the scores are counted into the
      intervals between ``num_thresholds`` fixed thresholds ``t_0 = -ε < t_1 < … <
      t_{n-1} = 1 + ε`` (evenly spaced on [0, 1]). At each threshold
      ``TPR_j = TP(ŷ > t_j) / P`` and ``FPR_j = FP(ŷ > t_j) / N``, and the area is the
      trapezoid sum ``Σ_j (FPR_j - FPR_{j+1}) (TPR_j + TPR_{j+1}) / 2``. Updates cost
      one ``searchsorted`` and one ``bincount`` per batch, with NumPy on the host;
      ``result()`` is O(num_thresholds).
      Scores closer together than the threshold spacing count as ties, so the value is
      approximate (typically within 0.01 of the exact area).
    * ``num_thresholds=None``: every score is kept and ``result()`` sorts them and uses
      every distinct score as a threshold: the exact area (equal to scikit-learn's
      ``roc_auc_score``). ``result()`` costs O(n log n) in the number of scores seen, so
      prefer it for ``evaluate`` rather than for a per-step progress bar.

    With ``k > 1`` outputs all scores are pooled ("micro", Keras's ``multi_label=False``).
    Positives are ``y > ½``. With no positive or no negative seen, the result is 0.

    Parameters
    ----------
    num_thresholds : int >= 3 or None
    from_logits : bool
        Apply the sigmoid to ``y_pred`` first (for ``BinaryCrossentropy(from_logits=True)``).
    """

    default_name = "auc"

    def __init__(
        self, num_thresholds: int | None = 200, from_logits: bool = False, name: str | None = None
    ) -> None:
        if num_thresholds is not None:
            num_thresholds = check_int("num_thresholds", num_thresholds, minimum=3)
        self.num_thresholds = num_thresholds
        self.from_logits = bool(from_logits)
        if self.num_thresholds is not None:
            n = self.num_thresholds
            inner = [(i + 1) / (n - 1) for i in range(n - 2)]
            self.thresholds = np.array([-losses.EPSILON, *inner, 1.0 + losses.EPSILON])
        super().__init__(name=name)

    def reset_state(self) -> None:
        if self.num_thresholds is None:
            self._batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            self._cached: float | None = None
        else:
            # Weighted histograms of positive / negative scores: bin b holds the scores
            # above exactly b thresholds (b = 0 … num_thresholds).
            self.positive_counts = np.zeros(self.num_thresholds + 1)
            self.negative_counts = np.zeros(self.num_thresholds + 1)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = _as_rows(y_true, y_pred)
        m, k = y_pred.shape
        scores = _sigmoid(y_pred) if self.from_logits else y_pred
        weights = sample_weight_vector(sample_weight, m)
        # Counting into bins and sorting happen on the host: one copy of the batch.
        scores = to_numpy(scores).reshape(-1)
        positive = (to_numpy(y_true) > 0.5).reshape(-1)
        weights = np.ones(m * k) if weights is None else np.repeat(to_numpy(weights), k)
        if self.num_thresholds is None:
            self._batches.append((scores.astype(np.float64), positive, weights.astype(np.float64)))
            self._cached = None
            return
        bins = np.searchsorted(self.thresholds, scores, side="left")  # how many t_j < score
        size = self.num_thresholds + 1
        self.positive_counts += np.bincount(bins[positive], weights[positive], minlength=size)
        self.negative_counts += np.bincount(bins[~positive], weights[~positive], minlength=size)

    def result(self) -> float:
        if self.num_thresholds is None:
            if self._cached is None:
                self._cached = self._exact_area()
            return self._cached
        # TP_j = weight of positives with score > t_j = sum of the bins above j
        true_positives = np.cumsum(self.positive_counts[::-1])[::-1][1:]
        false_positives = np.cumsum(self.negative_counts[::-1])[::-1][1:]
        return _trapezoid_roc_area(
            true_positives, false_positives, self.positive_counts.sum(), self.negative_counts.sum()
        )

    def _exact_area(self) -> float:
        if not self._batches:
            return 0.0
        scores, positive, weights = (
            np.concatenate(parts) for parts in zip(*self._batches, strict=True)
        )
        order = np.argsort(-scores, kind="stable")               # highest score first
        scores, positive, weights = scores[order], positive[order], weights[order]
        true_positives = np.cumsum(weights * positive)
        false_positives = np.cumsum(weights * ~positive)
        last_of_ties = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
        # thresholds from +inf (nothing positive) down to the lowest score
        true_positives = np.r_[0.0, true_positives[last_of_ties]]
        false_positives = np.r_[0.0, false_positives[last_of_ties]]
        return _trapezoid_roc_area(
            true_positives[::-1], false_positives[::-1], true_positives[-1], false_positives[-1]
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "from_logits": self.from_logits,
        }


def _trapezoid_roc_area(
    true_positives: np.ndarray, false_positives: np.ndarray, positives: float, negatives: float
) -> float:
    """Area under the ROC curve from weighted counts at increasing thresholds.

    ``TPR = TP / P`` and ``FPR = FP / N`` both fall as the threshold rises; the area
    is the trapezoid sum ``Σ_j (FPR_j - FPR_{j+1}) (TPR_j + TPR_{j+1}) / 2``.
    """
    if positives <= 0 or negatives <= 0:
        return 0.0
    tpr = true_positives / positives
    fpr = false_positives / negatives
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


# --------------------------------------------------------------------------- registry
_BY_NAME: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
}
_ACCURACY_NAMES = ("accuracy", "acc")
_CLASSES: dict[str, type[Metric]] = {
    cls.__name__.lower(): cls for cls in (*_BY_NAME.values(), Mean)
}


def _accuracy_for(loss: losses.Loss | None, n_outputs: int | None, name: str) -> Metric:
    """Keras's ``'accuracy'``: the kind of accuracy that fits the loss (or the output size)."""
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    if isinstance(loss, losses.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss, losses.BinaryCrossentropy):
        return BinaryAccuracy(threshold=0.0 if loss.from_logits else 0.5, name=name)
    if isinstance(loss, losses.Hinge):
        return BinaryAccuracy(threshold=0.0, name=name)
    if n_outputs is not None and n_outputs > 1:
        return CategoricalAccuracy(name=name)
    return BinaryAccuracy(name=name)


def get(identifier: Any, loss: Any = None, n_outputs: int | None = None) -> Metric:
    """Turn a name, a config dict, a function or a :class:`Metric` into a fresh metric.

    Parameters
    ----------
    identifier : str, dict, callable or Metric
        A Keras name (``'accuracy'``, ``'mse'``, ``'auc'``, ...; the metric is named
        after it), a dict from :meth:`Metric.get_config`, a per-sample function
        ``fn(y_true, y_pred) -> (m,)`` (averaged with :class:`MeanMetricWrapper`), or
        an instance, returned as is.
    loss : str or Loss, optional
        The model's loss. ``'accuracy'``/``'acc'`` becomes binary accuracy for binary
        cross-entropy (threshold 0 on logits when ``from_logits=True``) and hinge
        (threshold 0), categorical accuracy for categorical cross-entropy and sparse
        categorical accuracy for sparse categorical cross-entropy. With
        ``BinaryCrossentropy(from_logits=True)``, precision and recall threshold the
        logits at 0 and AUC applies the sigmoid first.
    n_outputs : int, optional
        Output units; decides ``'accuracy'`` for other losses (1: binary, more: categorical).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        class_name = check_choice("metric class_name", config.pop("class_name", None), _CLASSES)
        return _CLASSES[class_name](**config.get("config", config))
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    if not isinstance(identifier, str):
        raise TypeError(
            "metric must be a name such as 'accuracy', a config dict, a function or a Metric, "
            f"got {identifier!r} ({type(identifier).__name__})"
        )
    key = check_choice("metric", identifier, (*_BY_NAME, *_ACCURACY_NAMES))
    loss = None if loss is None else losses.get(loss)
    if n_outputs is not None:
        n_outputs = check_int("n_outputs", n_outputs)
    if key in _ACCURACY_NAMES:
        return _accuracy_for(loss, n_outputs, name=key)
    metric_class = _BY_NAME[key]
    on_logits = isinstance(loss, losses.BinaryCrossentropy) and loss.from_logits
    if on_logits and metric_class in (Precision, Recall):
        return metric_class(threshold=0.0, name=key)
    if on_logits and metric_class is AUC:
        return AUC(from_logits=True, name=key)
    return metric_class(name=key)


# Keras 2 before 2.3 logged metrics=['accuracy'] as 'acc' (and 'val_acc'), so older scripts
# monitor 'val_acc' where newer ones write 'val_accuracy'. Both spellings name one log entry.
_LOG_SPELLINGS = {"acc": "accuracy", "accuracy": "acc"}


def log_key(monitor: str, logs: dict[str, Any]) -> str:
    """The key of ``logs`` that ``monitor`` means: itself if present, else its other accuracy spelling.

    ``log_key('val_acc', {'val_accuracy': 0.9})`` is ``'val_accuracy'``; a name that
    is in ``logs``, or has no other spelling there, is returned unchanged.
    """
    if monitor in logs or not isinstance(monitor, str):
        return monitor
    prefix = "val_" if monitor.startswith("val_") else ""
    other = _LOG_SPELLINGS.get(monitor[len(prefix):])
    return prefix + other if other is not None and prefix + other in logs else monitor
