"""Metrics: accumulated over several weighted batches, checked against scikit-learn.

Every test runs on each core array backend (NumPy and array-api-strict, see conftest):
``accumulate`` feeds the batches as arrays of the active backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from _helpers import on_backend, to_numpy
from glassnet import losses, metrics
from glassnet.backend import dtype_name, is_backend_array
from glassnet.utils import make_rng

pytestmark = pytest.mark.usefixtures("array_backend")

BATCHES = (7, 32, 1, 20)   # uneven batch sizes, as the last batch of an epoch is
N = sum(BATCHES)
K = 4


def batches(*arrays):
    """Split each array into the BATCHES row slices, in step."""
    start = 0
    for size in BATCHES:
        yield tuple(a[start:start + size] for a in arrays)
        start += size


def accumulate(metric, y_true, y_pred, weights):
    """Reset, feed the BATCHES as arrays of the active backend, return the result."""
    metric.reset_state()
    for yt, yp, w in batches(y_true, y_pred, weights):
        metric.update_state(on_backend(yt), on_backend(yp), sample_weight=on_backend(w))
    result = metric.result()
    assert isinstance(result, float)
    return result


@pytest.fixture
def data():
    rng = make_rng(0)
    labels = rng.integers(0, 2, size=N)
    probabilities = np.clip(labels * 0.3 + rng.random(N) * 0.7, 0, 1).astype(np.float32)
    ids = rng.integers(0, K, size=N)
    scores = rng.normal(size=(N, K)) + 1.5 * np.eye(K)[ids]
    return {
        "labels": labels,
        "probabilities": probabilities,
        "ids": ids,
        "one_hot": np.eye(K)[ids],
        "scores": scores,
        "weights": rng.uniform(0.0, 3.0, size=N),
        "regression_true": rng.normal(size=(N, 3)),
        "regression_pred": rng.normal(size=(N, 3)),
    }


# ----------------------------------------------------------------------------- accuracy
def test_binary_accuracy(data):
    y, p, w = data["labels"], data["probabilities"], data["weights"]
    expected = skm.accuracy_score(y, p > 0.5, sample_weight=w)
    assert accumulate(metrics.BinaryAccuracy(), y, p[:, None], w) == pytest.approx(expected)
    expected_07 = skm.accuracy_score(y, p > 0.7, sample_weight=w)
    assert accumulate(metrics.BinaryAccuracy(0.7), y, p, w) == pytest.approx(expected_07)


def test_categorical_and_sparse_accuracy(data):
    ids, onehot, scores, w = data["ids"], data["one_hot"], data["scores"], data["weights"]
    expected = skm.accuracy_score(ids, scores.argmax(axis=1), sample_weight=w)
    assert 0.3 < expected < 0.9  # a meaningful test: neither all right nor all wrong
    assert accumulate(metrics.CategoricalAccuracy(), onehot, scores, w) == pytest.approx(expected)
    sparse = metrics.SparseCategoricalAccuracy()
    assert accumulate(sparse, ids, scores, w) == pytest.approx(expected)
    assert accumulate(sparse, ids[:, None], scores, w) == pytest.approx(expected)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy(data, k):
    ids, onehot, scores, w = data["ids"], data["one_hot"], data["scores"], data["weights"]
    expected = skm.top_k_accuracy_score(ids, scores, k=k, sample_weight=w, labels=range(K))
    top_k = metrics.TopKCategoricalAccuracy(k=k)
    assert accumulate(top_k, onehot, scores, w) == pytest.approx(expected)
    sparse_top_k = metrics.SparseTopKCategoricalAccuracy(k=k)
    assert accumulate(sparse_top_k, ids, scores, w) == pytest.approx(expected)


def test_unweighted_is_weight_one(data):
    y, p = data["labels"], data["probabilities"]
    metric = metrics.BinaryAccuracy()
    for yt, yp in batches(y, p):
        metric.update_state(on_backend(yt), on_backend(yp))
    assert metric.result() == pytest.approx(skm.accuracy_score(y, p > 0.5))
    # NumPy data works on every backend, and gives the same
    metric.reset_state()
    for yt, yp in batches(y, p):
        metric.update_state(yt, yp)
    assert metric.result() == pytest.approx(skm.accuracy_score(y, p > 0.5))


def test_per_sample_functions_return_arrays_of_the_backend(data):
    ids, onehot, scores = data["ids"], data["one_hot"], data["scores"]
    labels, probabilities = data["labels"], data["probabilities"]
    y, p = data["regression_true"], data["regression_pred"]
    true_scores = scores[np.arange(N), ids]
    in_top_2 = (scores > true_scores[:, None]).sum(axis=1) < 2
    cases = [
        (metrics.binary_accuracy(on_backend(labels), on_backend(probabilities)),
         (probabilities > 0.5) == (labels > 0.5)),
        (metrics.categorical_accuracy(on_backend(onehot), on_backend(scores)),
         scores.argmax(axis=1) == ids),
        (metrics.sparse_categorical_accuracy(on_backend(ids), on_backend(scores)),
         scores.argmax(axis=1) == ids),
        (metrics.sparse_top_k_categorical_accuracy(on_backend(ids), on_backend(scores), k=2),
         in_top_2),
        (metrics.top_k_categorical_accuracy(on_backend(onehot), on_backend(scores), k=2),
         in_top_2),
        (metrics.mean_squared_error(on_backend(y), on_backend(p)), ((p - y) ** 2).mean(axis=1)),
        (metrics.mean_absolute_error(on_backend(y), on_backend(p)), np.abs(p - y).mean(axis=1)),
    ]
    for values, expected in cases:
        assert is_backend_array(values) and values.shape == (N,)
        assert dtype_name(values) == "float64"
        np.testing.assert_allclose(to_numpy(values), expected.astype(np.float64), rtol=1e-12)


# ----------------------------------------------------------------------------- precision / recall
@pytest.mark.parametrize(
    ("metric_class", "score"),
    [(metrics.Precision, skm.precision_score), (metrics.Recall, skm.recall_score)],
)
def test_precision_recall_binary_and_micro(data, metric_class, score):
    y, p, w = data["labels"], data["probabilities"], data["weights"]
    expected = score(y, p > 0.5, sample_weight=w)
    assert accumulate(metric_class(), y, p, w) == pytest.approx(expected)
    # one-hot targets: every (example, class) pair counts ("micro"), as in Keras
    onehot, scores = data["one_hot"], data["scores"]
    expected = score(onehot, scores > 0.5, average="micro", sample_weight=w)
    assert accumulate(metric_class(), onehot, scores, w) == pytest.approx(expected)
    assert accumulate(metric_class(threshold=1.0), onehot, scores, w) == pytest.approx(
        score(onehot, scores > 1.0, average="micro", sample_weight=w)
    )


def test_precision_without_predicted_positives_is_zero():
    precision = metrics.Precision()
    precision.update_state([1, 0], [0.1, 0.2])
    assert precision.result() == 0.0
    recall = metrics.Recall()
    recall.update_state(on_backend([0, 0]), on_backend([0.9, 0.2]))
    assert recall.result() == 0.0


# ----------------------------------------------------------------------------- AUC
def keras_thresholded_auc(y, p, w, num_thresholds=200):
    """Keras's AUC(num_thresholds) written out threshold by threshold."""
    eps = 1e-7
    thresholds = [-eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    thresholds.append(1 + eps)
    tpr, fpr = [], []
    for t in thresholds:
        predicted = p > t
        tpr.append(np.sum(w * (predicted & (y == 1))) / np.sum(w * (y == 1)))
        fpr.append(np.sum(w * (predicted & (y == 0))) / np.sum(w * (y == 0)))
    tpr, fpr = np.array(tpr), np.array(fpr)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_exact_auc_matches_sklearn_with_ties_and_weights(data):
    y, w = data["labels"], data["weights"]
    p = np.round(data["probabilities"], 1)  # many tied scores
    expected = skm.roc_auc_score(y, p, sample_weight=w)
    assert 0.6 < expected < 0.99
    exact = metrics.AUC(num_thresholds=None)
    assert accumulate(exact, y, p, w) == pytest.approx(expected, abs=1e-12)
    assert exact.result() == pytest.approx(expected, abs=1e-12)   # cached result


def test_thresholded_auc_is_keras_and_close_to_exact(data):
    y, p, w = data["labels"], data["probabilities"], data["weights"]
    value = accumulate(metrics.AUC(), y, p, w)
    assert value == pytest.approx(keras_thresholded_auc(y, p, w), abs=1e-12)
    assert value == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=0.01)
    coarse = accumulate(metrics.AUC(num_thresholds=5), y, p, w)
    assert coarse == pytest.approx(keras_thresholded_auc(y, p, w, 5), abs=1e-12)


def test_auc_pools_outputs_and_reads_logits(data):
    onehot, scores, w = data["one_hot"], data["scores"], data["weights"]
    pooled_weights = np.repeat(w, K)
    expected = skm.roc_auc_score(onehot.ravel(), scores.ravel(), sample_weight=pooled_weights)
    exact = metrics.AUC(num_thresholds=None)
    assert accumulate(exact, onehot, scores, w) == pytest.approx(expected, abs=1e-12)
    on_logits = metrics.AUC(from_logits=True)
    assert accumulate(on_logits, onehot, scores, w) == pytest.approx(expected, abs=0.01)


def test_auc_with_one_class_only_is_zero():
    auc = metrics.AUC()
    auc.update_state(on_backend([1, 1]), on_backend([0.3, 0.8]))
    assert auc.result() == 0.0


# ----------------------------------------------------------------------------- regression
def test_regression_metrics(data):
    y, p, w = data["regression_true"], data["regression_pred"], data["weights"]
    mse = skm.mean_squared_error(y, p, sample_weight=w)
    mae = skm.mean_absolute_error(y, p, sample_weight=w)
    assert accumulate(metrics.MeanSquaredError(), y, p, w) == pytest.approx(mse)
    assert accumulate(metrics.MeanAbsoluteError(), y, p, w) == pytest.approx(mae)
    assert accumulate(metrics.RootMeanSquaredError(), y, p, w) == pytest.approx(math.sqrt(mse))


def test_mean_and_reset():
    mean = metrics.Mean()
    assert mean.result() == 0.0
    mean.update_state(2.0, sample_weight=32)
    mean.update_state(5.0, sample_weight=8)
    assert mean.result() == pytest.approx((2.0 * 32 + 5.0 * 8) / 40)
    mean.update_state(on_backend([1.0, 3.0]))
    assert mean.result() == pytest.approx((64 + 40 + 4) / 42)
    mean.reset_state()
    assert mean.result() == 0.0
    accuracy = metrics.BinaryAccuracy()
    accuracy.update_state([1, 0], [0.9, 0.9])
    accuracy.reset_state()
    accuracy.update_state(on_backend([1]), on_backend([0.9]))
    assert accuracy.result() == 1.0


def test_sample_weight_length_is_checked():
    with pytest.raises(ValueError, match="one weight per sample"):
        metrics.BinaryAccuracy().update_state([1, 0], [0.9, 0.1], sample_weight=[1.0])
    with pytest.raises(ValueError, match="one weight per sample"):
        metrics.BinaryAccuracy().update_state(
            on_backend([1, 0]), on_backend([0.9, 0.1]), sample_weight=on_backend([1.0])
        )


# ----------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("loss", "n_outputs", "cls", "threshold"),
    [
        ("binary_crossentropy", 1, metrics.BinaryAccuracy, 0.5),
        (losses.BinaryCrossentropy(from_logits=True), 1, metrics.BinaryAccuracy, 0.0),
        ("categorical_crossentropy", 10, metrics.CategoricalAccuracy, None),
        ("sparse_categorical_crossentropy", 10, metrics.SparseCategoricalAccuracy, None),
        ("hinge", 1, metrics.BinaryAccuracy, 0.0),
        ("mse", 1, metrics.BinaryAccuracy, 0.5),
        ("mse", 3, metrics.CategoricalAccuracy, None),
        (None, 1, metrics.BinaryAccuracy, 0.5),
    ],
)
def test_accuracy_resolves_from_the_loss(loss, n_outputs, cls, threshold):
    metric = metrics.get("accuracy", loss=loss, n_outputs=n_outputs)
    assert type(metric) is cls
    assert metric.name == "accuracy"
    if threshold is not None:
        assert metric.get_config()["threshold"] == threshold
    assert metrics.get("acc", loss=loss, n_outputs=n_outputs).name == "acc"


def test_accuracy_on_logits_and_hinge_labels():
    logits_accuracy = metrics.get("accuracy", loss=losses.BinaryCrossentropy(from_logits=True))
    logits_accuracy.update_state(on_backend([1, 0, 1]), on_backend([2.0, -1.0, -0.5]))  # ✓ ✓ ✗
    assert logits_accuracy.result() == pytest.approx(2 / 3)
    hinge_accuracy = metrics.get("accuracy", loss="hinge")
    hinge_accuracy.update_state(on_backend([1, -1, -1, 1]), on_backend([0.3, -2.0, 0.1, 1.5]))
    assert hinge_accuracy.result() == pytest.approx(3 / 4)


def test_get_names_configs_and_functions():
    assert metrics.get("mse").name == "mse"
    assert type(metrics.get("rmse")) is metrics.RootMeanSquaredError
    assert type(metrics.get("mean_absolute_error")) is metrics.MeanAbsoluteError
    sparse_top_k = metrics.get("sparse_top_k_categorical_accuracy")
    assert type(sparse_top_k) is metrics.SparseTopKCategoricalAccuracy
    on_logits = losses.BinaryCrossentropy(from_logits=True)
    assert metrics.get("precision", loss=on_logits).threshold == 0.0
    assert metrics.get("recall", loss="binary_crossentropy").threshold == 0.5
    assert metrics.get("auc", loss=on_logits).from_logits is True
    top3 = metrics.TopKCategoricalAccuracy(k=3, name="top3")
    assert metrics.get(top3) is top3
    rebuilt = metrics.get(top3.get_config())
    assert type(rebuilt) is metrics.TopKCategoricalAccuracy and rebuilt.name == "top3"
    assert rebuilt.get_config() == top3.get_config()
    auc = metrics.get({"class_name": "AUC", "config": {"num_thresholds": None}})
    assert auc.num_thresholds is None

    def within_half(y_true, y_pred):
        return (np.abs(np.asarray(y_true) - np.asarray(y_pred)) < 0.5).mean(axis=1)

    custom = metrics.get(within_half)
    custom.update_state([[1.0], [2.0]], [[1.2], [3.0]], sample_weight=[3.0, 1.0])
    assert custom.name == "within_half" and custom.result() == pytest.approx(0.75)


def test_get_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'accuracy'"):
        metrics.get("accurcy")
    with pytest.raises(ValueError, match="Valid values: .*precision"):
        metrics.get("f1")
    with pytest.raises(TypeError, match="metric must be"):
        metrics.get(3)
