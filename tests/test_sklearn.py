"""glassnet.sklearn: scikit-learn's own estimator checks, and the estimators at work."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_methods_subset_invariance,
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from glassnet import config
from glassnet.layers import Dense, Dropout, Input
from glassnet.models import Sequential
from glassnet.sklearn import (
    EXPECTED_FAILED_CHECKS,
    GlassnetClassifier,
    GlassnetRegressor,
    make_mlp,
)
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(16,), learning_rate=0.02, epochs=50)


@parametrize_with_checks(
    [GlassnetClassifier(**SMALL), GlassnetRegressor(**SMALL)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------- data
def blobs(n=120, centers=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=centers, n_features=4, cluster_std=1.5,
                      random_state=seed)
    return StandardScaler().fit_transform(X), y


def regression_data(n=200, n_outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    Y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + k for k in range(n_outputs)])
    return X, Y


# ---------------------------------------------------------------------- classifier
def test_binary_string_labels():
    X, y = blobs(centers=2)
    labels = np.array(["no", "yes"])[y]
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    output = clf.model_.layers[-1]
    assert (output.units, output.activation.name) == (1, "sigmoid")
    assert clf.model_.loss.name == "binary_crossentropy"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba[:, 1], clf.model_.predict(X)[:, 0], rtol=1e-6)
    predicted = clf.predict(X)
    assert set(predicted) <= {"no", "yes"}
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.9


def test_multiclass():
    X, y = blobs(centers=3)
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, y + 10)
    np.testing.assert_array_equal(clf.classes_, [10, 11, 12])
    output = clf.model_.layers[-1]
    assert (output.units, output.activation.name) == (3, "softmax")
    assert clf.model_.loss.name == "sparse_categorical_crossentropy"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), 10 + proba.argmax(axis=1))
    assert clf.score(X, y + 10) > 0.9
    assert clf.n_features_in_ == 4 and clf.n_outputs_ == 3
    assert len(clf.loss_curve_) == clf.n_iter_ == len(clf.history_["loss"])
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_multiclass_with_one_hot_loss():
    X, y = blobs(centers=3)
    clf = GlassnetClassifier(**SMALL, loss="categorical_crossentropy", random_state=0)
    clf.fit(X, y)
    assert clf.model_.loss.name == "categorical_crossentropy"
    assert clf.score(X, y) > 0.9


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=150, n_features=6, n_classes=4,
                                          random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2, 3])
    output = clf.model_.layers[-1]
    assert (output.units, output.activation.name) == (4, "sigmoid")
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 4) and ((proba >= 0) & (proba <= 1)).all()
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape and predicted.dtype == Y.dtype
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(Y.dtype))
    assert (predicted == Y).mean() > 0.8  # label-wise accuracy


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes, got 1 class"):
        GlassnetClassifier(**SMALL).fit(np.zeros((5, 2)), ["a"] * 5)


def test_continuous_targets_are_rejected_by_the_classifier():
    with pytest.raises(ValueError, match="Unknown label type"):
        GlassnetClassifier(**SMALL).fit(np.zeros((4, 2)), [0.5, 1.5, 2.5, 3.1])


# ---------------------------------------------------------------------- regressor
def test_regressor_1d_and_multioutput():
    X, Y = regression_data(n_outputs=2)
    settings = dict(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=300, random_state=0)
    single = GlassnetRegressor(**settings).fit(X, Y[:, 0])
    prediction = single.predict(X)
    assert prediction.shape == (len(X),) and prediction.dtype == np.float64
    assert single.score(X, Y[:, 0]) > 0.9
    assert single.model_.layers[-1].activation.name == "linear"
    assert single.model_.loss.name == "mean_squared_error"

    double = GlassnetRegressor(**settings).fit(X, Y)
    assert double.predict(X).shape == (len(X), 2) and double.n_outputs_ == 2
    assert double.score(X, Y) > 0.9
    column = GlassnetRegressor(**settings).fit(X, Y[:, :1])
    assert column.predict(X).shape == (len(X), 1)   # 2-D y in, 2-D predictions out


def test_regressor_other_loss():
    X, Y = regression_data(n=50)
    reg = GlassnetRegressor(**SMALL, loss="mae", random_state=0).fit(X, Y[:, 0])
    assert reg.model_.loss.name == "mean_absolute_error"


# ---------------------------------------------------------------------- randomness
@pytest.mark.parametrize("Estimator", [GlassnetClassifier, GlassnetRegressor])
def test_random_state_gives_bitwise_identical_fits(Estimator):
    X, y = blobs(n=90)
    settings = dict(SMALL, early_stopping=True, validation_fraction=0.2)

    def dropout_mlp(n_features, n_outputs, *, output_activation, loss, **kwargs):
        model = Sequential([Input(shape=(n_features,)), Dense(8, activation="relu"),
                            Dropout(0.3), Dense(n_outputs, activation=output_activation)])
        model.compile(optimizer="adam", loss=loss)
        return model

    for extra in ({}, {"model_fn": dropout_mlp}):
        first = Estimator(**settings, **extra, random_state=3).fit(X, y)
        set_random_seed(999)  # glassnet's global seed must not matter
        second = Estimator(**settings, **extra, random_state=3).fit(X, y)
        other = Estimator(**settings, **extra, random_state=4).fit(X, y)
        method = "predict_proba" if Estimator is GlassnetClassifier else "predict"
        np.testing.assert_array_equal(getattr(first, method)(X), getattr(second, method)(X))
        assert first.loss_curve_ == second.loss_curve_
        assert not np.array_equal(getattr(first, method)(X), getattr(other, method)(X))


def test_random_state_none_follows_glassnets_global_seed():
    X, y = blobs(n=60)
    set_random_seed(5)
    first = GlassnetClassifier(**SMALL).fit(X, y).predict_proba(X)
    again = GlassnetClassifier(**SMALL).fit(X, y).predict_proba(X)
    set_random_seed(5)
    repeat = GlassnetClassifier(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, repeat)
    assert not np.array_equal(first, again)


def test_numpy_random_state_instance_is_accepted():
    X, y = blobs(n=60)
    a = GlassnetClassifier(**SMALL, random_state=np.random.RandomState(0)).fit(X, y)
    b = GlassnetClassifier(**SMALL, random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# ---------------------------------------------------------------------- dtypes
def test_the_network_computes_in_the_input_float_type():
    """As MLPClassifier: float32 in, float32 network; float64 or integers in, float64."""
    X, y = blobs(n=60)
    for data, expected in ((X.astype(np.float32), np.float32), (X, np.float64),
                           (np.round(X * 10).astype(np.int64), np.float64)):
        clf = GlassnetClassifier(**SMALL, random_state=0).fit(data, y)
        assert clf.model_.parameters.dtype == expected
        assert clf.predict_proba(data).dtype == np.float64
        assert config.floatx() == "float32"          # the global setting is restored
    reg = GlassnetRegressor(**SMALL, random_state=0).fit(X.astype(np.float32), X[:, 0])
    assert reg.model_.parameters.dtype == np.float32
    # a float64 model predicts float32 input after converting it, and the reverse
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X.astype(np.float32)),
                                  clf.predict_proba(X.astype(np.float32).astype(np.float64)))


def test_fitting_never_changes_the_global_float_type():
    """The network is built in the input's type without toggling glassnet.config's default."""
    from glassnet.sklearn import make_mlp

    X, y = blobs(n=30)
    seen = []

    def build(n_features, n_outputs, **kwargs):
        seen.append(config.floatx())
        return make_mlp(n_features, n_outputs, **kwargs)

    config.set_floatx("float64")
    try:
        clf = GlassnetClassifier(**SMALL, model_fn=build, random_state=0).fit(X.astype(np.float32), y)
        assert seen == ["float64"] and config.floatx() == "float64"
        assert clf.model_.parameters.dtype == np.float32
    finally:
        config.set_floatx("float32")


@pytest.mark.parametrize("Estimator", [GlassnetClassifier, GlassnetRegressor])
def test_float32_rounding_checks_pass(Estimator):
    """The checks float32 training failed (by rounding: 3.6e-7 against rtol 1e-7) pass
    because the estimators now train on the checks' float64 data in float64."""
    assert EXPECTED_FAILED_CHECKS == {}
    check_sample_weight_equivalence_on_dense_data(Estimator.__name__, Estimator(**SMALL))
    check_methods_subset_invariance(Estimator.__name__, Estimator(**SMALL))


# ---------------------------------------------------------------------- sample weights
def test_integer_weights_equal_repeated_samples_in_float64(float64):
    """With full batches the weighted loss and penalty are those of the repeated data,
    so in float64 the two fits agree to rounding (float32 gives ~1e-7, see the docs)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 4))
    y = rng.integers(0, 3, size=15)
    weights = rng.integers(0, 4, size=15)
    settings = dict(SMALL, alpha=0.01, random_state=0)
    repeated = GlassnetClassifier(**settings).fit(X.repeat(weights, axis=0), y.repeat(weights))
    weighted = GlassnetClassifier(**settings).fit(X, y, sample_weight=weights)
    assert weighted.model_.parameters.dtype == np.float64
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-9, atol=1e-12)
    # without the penalty (which, like MLPClassifier's, is relative to the total weight
    # of a batch) only the relative size of the weights matters
    settings["alpha"] = 0.0
    weighted = GlassnetClassifier(**settings).fit(X, y, sample_weight=weights)
    scaled = GlassnetClassifier(**settings).fit(X, y, sample_weight=10.0 * weights)
    np.testing.assert_allclose(scaled.predict_proba(X), weighted.predict_proba(X),
                               rtol=1e-9, atol=1e-12)


def test_sample_weight_changes_the_fit():
    X, y = blobs(n=60, centers=2)
    plain = GlassnetClassifier(**SMALL, random_state=0).fit(X, y)
    heavy = GlassnetClassifier(**SMALL, random_state=0).fit(
        X, y, sample_weight=np.where(y == 1, 20.0, 1.0))
    assert heavy.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()
    with pytest.raises(ValueError, match="at least one non-zero"):
        GlassnetClassifier(**SMALL).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative values"):
        GlassnetClassifier(**SMALL).fit(X, y, sample_weight=-np.ones(len(y)))


# ---------------------------------------------------------------------- stopping
def test_early_stopping_on_validation_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = rng.integers(0, 2, size=200)        # pure noise: the validation loss soon rises
    clf = GlassnetClassifier(hidden_layer_sizes=(64,), learning_rate=0.05, epochs=300,
                             early_stopping=True, n_iter_no_change=5, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ < 300
    assert len(clf.history_["val_loss"]) == clf.n_iter_
    assert min(clf.history_["val_loss"]) < clf.history_["val_loss"][-1]   # it got worse


def test_training_loss_stopping_and_convergence_warning(capsys):
    X, y = blobs(n=60)
    stopped = GlassnetClassifier(**dict(SMALL, epochs=100), tol=10.0, n_iter_no_change=3,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped.fit(X, y)
    assert stopped.n_iter_ == 4             # epoch 1 sets the best loss; 3 more without gain
    assert capsys.readouterr().out == ""    # verbose=0 is silent
    stopped.set_params(verbose=2).fit(X, y)
    assert "early stopping" in capsys.readouterr().out
    with pytest.warns(ConvergenceWarning, match="the 3 epochs ran out"):
        GlassnetClassifier(**dict(SMALL, epochs=3), random_state=0).fit(X, y)


# ---------------------------------------------------------------------- model_fn
def test_model_fn_gets_the_settings_and_its_model_is_trained():
    X, y = blobs(n=60)
    calls = []

    def model_fn(n_features, n_outputs, **kwargs):
        calls.append((n_features, n_outputs, kwargs))
        return make_mlp(n_features, n_outputs, **{**kwargs, "hidden_layer_sizes": (5, 5)})

    clf = GlassnetClassifier(**SMALL, model_fn=model_fn, random_state=0).fit(X, y)
    (n_features, n_outputs, kwargs), = calls
    assert (n_features, n_outputs) == (4, 3)
    assert kwargs["hidden_layer_sizes"] == (16,) and kwargs["activation"] == "relu"
    assert kwargs["output_activation"] == "softmax"
    assert kwargs["loss"] == "sparse_categorical_crossentropy"
    assert kwargs["l2"] == pytest.approx(0.0001 / (2 * 60))
    assert [layer.units for layer in clf.model_.layers] == [5, 5, 3]
    assert clf.score(X, y) > 0.8


def test_model_fn_mistakes_are_explained():
    X, y = blobs(n=30)

    def uncompiled(n_features, n_outputs, **kwargs):
        return Sequential([Input(shape=(n_features,)), Dense(n_outputs, activation="softmax")])

    def wrong_outputs(n_features, n_outputs, **kwargs):
        return make_mlp(n_features, n_outputs + 1, **kwargs)

    with pytest.raises(ValueError, match="compiled"):
        GlassnetClassifier(**SMALL, model_fn=uncompiled).fit(X, y)
    with pytest.raises(ValueError, match=r"output shape \(4,\); this task needs \(3,\)"):
        GlassnetClassifier(**SMALL, model_fn=wrong_outputs).fit(X, y)
    with pytest.raises(TypeError, match="Sequential"):
        GlassnetClassifier(**SMALL, model_fn=lambda *a, **k: "model").fit(X, y)


# ---------------------------------------------------------------------- model= (scikeras)
def scikeras_style_build(hidden, meta, compile_kwargs, activation="relu"):
    """A scikeras tutorial's build function: its arguments come from model__<name>."""
    model = Sequential([Input(shape=(meta["n_features_in_"],)),
                        Dense(hidden, activation=activation),
                        Dense(meta["n_outputs_expected_"], activation="softmax")])
    model.compile(**compile_kwargs)
    return model


def test_model_gets_routed_parameters_meta_and_compile_kwargs():
    X, y = blobs(n=60)
    seen = {}

    def build(hidden, meta, compile_kwargs, activation="relu"):
        seen.update(hidden=hidden, meta=meta, compile_kwargs=compile_kwargs, activation=activation)
        return scikeras_style_build(hidden, meta, compile_kwargs, activation)

    clf = GlassnetClassifier(**SMALL, model=build, model__hidden=7, model__activation="tanh",
                             random_state=0).fit(X, y)
    assert (seen["hidden"], seen["activation"]) == (7, "tanh")
    assert seen["meta"]["n_features_in_"] == 4 and seen["meta"]["n_outputs_expected_"] == 3
    np.testing.assert_array_equal(seen["meta"]["classes_"], [0, 1, 2])
    assert seen["compile_kwargs"]["loss"] == "sparse_categorical_crossentropy"
    assert seen["compile_kwargs"]["optimizer"].learning_rate == SMALL["learning_rate"]
    assert [layer.units for layer in clf.model_.layers] == [7, 3]
    assert clf.model_.layers[0].activation.name == "tanh"
    assert clf.score(X, y) > 0.8
    # a function that takes only its own arguments gets no meta or compile_kwargs
    def plain(units):
        return make_mlp(4, 3, hidden_layer_sizes=(units,), output_activation="softmax",
                        loss="sparse_categorical_crossentropy")

    assert GlassnetClassifier(**SMALL, model=plain, model__units=3).fit(X, y).model_.layers[0].units == 3


def test_routed_parameters_work_with_get_set_params_clone_and_grid_search():
    X, y = blobs(n=90)
    clf = GlassnetClassifier(**SMALL, model=scikeras_style_build, model__hidden=2, random_state=0)
    assert clf.get_params()["model__hidden"] == 2
    assert clf.set_params(model__hidden=5, epochs=20) is clf
    assert (clf.model__hidden, clf.epochs) == (5, 20)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and "model__hidden=5" in repr(twin)
    search = GridSearchCV(clf, {"model__hidden": [1, 12]}, cv=3).fit(X, y)
    assert search.best_params_ == {"model__hidden": 12}
    assert search.best_estimator_.model_.layers[0].units == 12


def test_model_mistakes_are_explained():
    X, y = blobs(n=30)
    with pytest.raises(TypeError, match="unexpected keyword argument 'hiden'"):
        GlassnetClassifier(hiden=3).fit(X, y)     # checked in fit, as scikit-learn asks
    with pytest.raises(ValueError, match="model__hidden is routed to model=, but no model="):
        GlassnetClassifier(**SMALL, model__hidden=3).fit(X, y)
    with pytest.raises(ValueError, match="model= or model_fn=, not both"):
        GlassnetClassifier(**SMALL, model=scikeras_style_build, model_fn=make_mlp).fit(X, y)
    with pytest.raises(TypeError, match=r"model must be None or a function.*got <Sequential"):
        GlassnetClassifier(**SMALL, model=Sequential()).fit(X, y)
    with pytest.raises(ValueError, match="model must return a compiled model"):
        GlassnetClassifier(**SMALL, model=lambda: Sequential([Input(shape=(4,)), Dense(3)])).fit(X, y)


# ---------------------------------------------------------------------- the ecosystem
def test_pipeline_grid_search_and_cross_validation():
    X, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=1)
    pipeline = make_pipeline(StandardScaler(), GlassnetClassifier(**SMALL, random_state=0))
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    search = GridSearchCV(pipeline, {"glassnetclassifier__hidden_layer_sizes": [(2,), (16,)]},
                          cv=3).fit(X, y)
    assert search.best_params_["glassnetclassifier__hidden_layer_sizes"] in [(2,), (16,)]
    assert search.score(X, y) > 0.8


def test_copies_keep_the_model_whole():
    """Copying (as pickling does) goes through glassnet's file format: the layers'
    weights stay views into the one parameter buffer, so training can go on."""
    X, y = blobs(n=60)
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, y)
    twin = copy.deepcopy(clf)
    assert twin.model_ is not clf.model_
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    for layer in twin.model_.layers:
        assert np.shares_memory(layer.W, twin.model_.parameters)
    twin.model_.fit(X, y, epochs=1, verbose=0)
    assert not np.array_equal(twin.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params() == clf.get_params()


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs(n=60)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = clf.predict(X)
    np.testing.assert_array_equal(clf.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"a": "z"}))


def test_wrong_number_of_features_at_predict():
    X, y = blobs(n=30)
    clf = GlassnetClassifier(**SMALL, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but GlassnetClassifier is "
                                         "expecting 4 features"):
        clf.predict(X[:, :3])


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes\[1\] must be"),
        ({"activation": "relux"}, ValueError, "Did you mean 'relu'"),
        ({"optimizer": "adma"}, ValueError, "Did you mean 'adam'"),
        ({"optimizer": None}, TypeError, "optimizer must be a glassnet optimizer name"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"batch_size": "big"}, TypeError, "batch_size"),
        ({"epochs": "5"}, TypeError, "epochs must be an integer"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping must be True or False"),
        ({"loss": "msa"}, ValueError, "Unknown loss"),
        ({"model_fn": 3}, TypeError, "model_fn must be None or a callable"),
    ],
)
def test_bad_hyperparameters_are_named(settings, error, message):
    X, y = blobs(n=20)
    with pytest.raises(error, match=message):
        GlassnetClassifier(**{**SMALL, **settings}).fit(X, y)


def test_batch_size_auto_and_explicit():
    X, y = blobs(n=60)
    auto = GlassnetClassifier(**dict(SMALL, epochs=1), random_state=0).fit(X, y)
    assert auto.model_.optimizer.iterations == 1          # min(200, 60) = one batch
    small = GlassnetClassifier(**dict(SMALL, epochs=1), batch_size=16, random_state=0).fit(X, y)
    assert small.model_.optimizer.iterations == 4          # ceil(60 / 16)
