"""The playground without a browser: settings checks, data, sessions, the server's limits, the CLI."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from glassnet.playground import data
from glassnet.playground.recipe import build_model, script
from glassnet.playground.settings import Limits, MessageError, Settings, parse_settings

SRC = Path(__file__).resolve().parents[1] / "src"


def _settings(**changes):
    return {**Settings().to_dict(), **changes}


# ------------------------------------------------------------------ settings
def test_default_settings_round_trip():
    assert parse_settings(_settings(), Limits()) == Settings()


@pytest.mark.parametrize("changes, words", [
    ({"layers": [4, 17], "activations": ["relu", "relu"]}, "settings.layers[1] must be at most 16"),
    ({"layers": [4] * 9, "activations": ["relu"] * 9}, "at most 8 entries"),
    ({"layers": [4, "6"], "activations": ["relu", "relu"]}, "settings.layers[1] must be an integer"),
    ({"layers": [4], "activations": ["relu", "relu"]}, "one activation per hidden layer"),
    ({"activations": ["relu", "relu", "relu", "rleu"]}, "Did you mean 'relu'"),
    ({"learning_rate": -1}, "settings.learning_rate"),
    ({"learning_rate": True}, "settings.learning_rate must be a real number"),
    ({"noise": 0.9}, "settings.noise"),
    ({"n_points": 10**6}, "settings.n_points must be at most 2000"),
    ({"features": []}, "at least one input feature"),
    ({"features": ["x1", "x1"]}, "must not repeat"),
    ({"features": ["x3"]}, "settings.features"),
    ({"dataset": "mnist"}, "settings.dataset"),
    ({"dataset": "plane"}, "settings.loss must be one of ['mean_squared_error']"),
    ({"seed": 2**40}, "settings.seed must be below 2**32"),
    ({"n_classes": 5}, "settings.n_classes must be 2 or 3"),
])
def test_bad_settings_name_the_field(changes, words):
    with pytest.raises(MessageError, match=None) as error:
        parse_settings(_settings(**changes), Limits())
    assert words in str(error.value)


def test_unknown_and_missing_fields_are_refused():
    with pytest.raises(MessageError, match=r"unknown field\(s\) \['turbo'\]"):
        parse_settings({**_settings(), "turbo": 1}, Limits())
    incomplete = _settings()
    del incomplete["seed"]
    with pytest.raises(MessageError, match=r"missing field\(s\) \['seed'\]"):
        parse_settings(incomplete, Limits())
    with pytest.raises(MessageError, match="settings must be an object"):
        parse_settings([1, 2], Limits())


def test_limits_are_configurable():
    wide = _settings(layers=[32], activations=["tanh"])
    with pytest.raises(MessageError):
        parse_settings(wide, Limits())
    assert parse_settings(wide, Limits(max_units=32)).layers == (32,)


# ------------------------------------------------------------------ data
@pytest.mark.parametrize("name", ["circle", "circles", "moons", "xor", "spiral", "gaussian", "spiral3",
                                  "gaussian3", "plane", "multigaussian"])
def test_datasets_are_reproducible_and_in_the_domain(name):
    X, y = data.make_dataset(name, 200, 0.1, seed=3)
    X2, y2 = data.make_dataset(name, 200, 0.1, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (200, 2) and np.abs(X).max() <= data.DOMAIN
    if name in ("plane", "multigaussian"):
        assert np.abs(y).max() <= 1
    else:
        assert set(np.unique(y)) == set(range(3 if name.endswith("3") else 2))


def test_the_articles_circles_come_from_glassnet_datasets():
    from glassnet.datasets import make_circles

    X, y = data.make_dataset("circles", 100, 0.0, seed=0)
    X_ref, y_ref = make_circles(100, noise=0.0, factor=0.3, random_state=0)
    np.testing.assert_allclose(X, data.SCALE * X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_features_are_the_named_functions():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    columns = data.features(X, ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"])
    np.testing.assert_allclose(columns[1], [-0.5, 3.0, 0.25, 9.0, -1.5, math.sin(-0.5), math.sin(3.0)])


def test_csv_parsing_checks_every_row():
    X, y = data.parse_csv("x1,x2,label\n1,2,0\n-1,-2,1\n", 10, regression=False)
    np.testing.assert_array_equal(X, [[1, 2], [-1, -2]])
    np.testing.assert_array_equal(y, [0, 1])
    for text, words in [("1,2\n", "three numbers"), ("1,2,0.5\n", "labels must be 0, 1 or 2"),
                        ("1,200,0\n", "must lie in"), ("1,nan,0\n", "finite"), ("", "no data rows"),
                        ("1,2,0\n" * 11, "at most 10 points")]:
        with pytest.raises(ValueError, match=words):
            data.parse_csv(text, 10, regression=False)


# ------------------------------------------------------------------ sessions
@pytest.fixture
def session():
    from glassnet.playground.session import Session

    wake = threading.Event()
    created = Session(Limits(), wake.set)
    created.wake = wake
    yield created
    created.close()


def _wait_for(session, kind, timeout=30.0):
    """Collect messages until one of type ``kind`` arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.wake.wait(0.5)
        session.wake.clear()
        messages, _ = session.take()
        for message in messages:
            if message["type"] == kind:
                return message
    raise AssertionError(f"no {kind!r} message within {timeout} s")


WEIGHT = {"type": "set_weight", "layer": 1, "param": "W", "row": 0, "column": 0, "value": 1}


def test_session_refuses_bad_messages_and_keeps_working(session):
    session.take()
    for message, words in [("text", "JSON object"), ({"type": "launch"}, "message type must be one of"),
                           ({"type": "trace", "set": "train", "index": "3"}, "index must be an integer"),
                           ({"type": "trace", "set": "train", "index": 10**6}, "index must be in"),
                           ({"type": "trace", "set": "all", "index": 0}, "set must be"),
                           ({**WEIGHT, "column": 9}, "column must be in 0..3"),
                           ({**WEIGHT, "value": 1e9}, "value must be a number in [-100, 100]"),
                           ({"type": "add_point", "x1": 0, "x2": 0, "label": 1}, "choose the data set"),
                           ({"type": "play", "now": True}, "unknown field(s) ['now']")]:
        session.handle(message)
        error = _wait_for(session, "error")
        assert words in error["message"], (message, error)
    session.handle({"type": "step"})
    frame_epochs = []
    while session.epoch < 1:
        session.wake.wait(0.5)
    assert session.epoch == 1 and not frame_epochs


def test_trace_message_matches_model_trace(session):
    session.handle({"type": "trace", "set": "test", "index": 4})
    shown = _wait_for(session, "trace")
    expected = session.model.trace(session.A0_test[4], session.Y_test[4])
    np.testing.assert_allclose(shown["steps"][0]["W"], expected.steps[0]["W"])
    assert shown["loss"] == pytest.approx(expected.loss)


def test_custom_points_and_csv_upload(session):
    settings = _settings(dataset="custom", n_classes=2)
    session.take()
    session.handle({"type": "configure", "settings": settings})
    assert _wait_for(session, "model")["train"]["x"] == []
    session.handle({"type": "play"})
    assert "add at least 4 points" in _wait_for(session, "error")["message"]
    session.handle({"type": "upload_csv", "text": "x" * (Limits().max_upload_bytes + 1)})
    assert "at most 200,000 bytes" in _wait_for(session, "error")["message"]
    session.handle({"type": "upload_csv", "text": "\n".join(f"{x},{-x},{int(x > 0)}" for x in range(-5, 6))})
    model = _wait_for(session, "model")
    assert len(model["train"]["x"]) + len(model["test"]["x"]) == 11
    session.handle({"type": "add_point", "x1": 1.5, "x2": 2.5, "label": 1})
    _wait_for(session, "model")
    assert len(session.custom_X) == 12
    assert "[1.5, 2.5]" in session.export_script()


@pytest.mark.filterwarnings("ignore:Epoch .*diverged:RuntimeWarning")   # the page's own message instead
def test_a_divergence_stops_training_with_an_explanation(session):
    session.handle({"type": "configure", "settings": _settings(
        dataset="plane", loss="mean_squared_error", optimizer="sgd", learning_rate=10.0,
        features=["x1", "x2", "x1^2", "x2^2"], layers=[8], activations=["relu"])})
    session.handle({"type": "play"})
    stopped = _wait_for(session, "stopped")
    assert "diverged" in stopped["reason"] and "learning rate" in stopped["reason"]
    assert not session._running


def test_diagnosis_marks_the_saturated_units(session):
    # All weights 1: layer 1 gives x1² + x2² (>= 2.25 on the circles), layer 2 three times that,
    # so every sigmoid unit of layer 2 has z > 5 on every example.
    session.handle({"type": "configure", "settings": _settings(
        features=["x1^2", "x2^2"], layers=[3, 3], activations=["relu", "sigmoid"], initializer="ones")})
    session.handle({"type": "diagnose"})
    diagnosis = _wait_for(session, "diagnosis")
    assert any(f["kind"] == "saturated_units" and f["layer"] == "hidden_2" for f in diagnosis["findings"])
    assert diagnosis["marks"]["hidden_2"]["saturated"] == [0, 1, 2]


def test_frames_hold_every_map_and_the_weights(session):
    import struct

    session.take()
    session.handle({"type": "pause"})
    session.wake.wait(5)
    _, frame = session.take()
    size = struct.unpack("<I", frame[:4])[0]
    header = json.loads(frame[4:4 + size])
    assert header["grid"] == 64 and header["nodeGrid"] == 32 and header["outputMaps"] == 1
    assert header["nodes"] == 7 + 4 + 6 + 6 + 4 + 1          # all seven features, then every unit
    start = 4 + size + (-(4 + size) % 4)
    maps = 64 * 64 + header["nodes"] * 32 * 32
    weights = np.frombuffer(frame[start + maps + (-maps % 4):], dtype="<f4")
    np.testing.assert_array_equal(weights, np.concatenate([w.ravel() for w in session.model.get_weights()]))
    assert len(frame) < 50_000


def test_a_loss_stuck_at_the_majority_baseline_is_reported(session):
    # Six sigmoid layers and plain SGD: the gradient vanishes and the output stays at 1/2.
    session.handle({"type": "configure", "settings": _settings(
        dataset="circle", layers=[4] * 6, activations=["sigmoid"] * 6, optimizer="sgd", learning_rate=0.01)})
    for _ in range(40):
        session.handle({"type": "step"})
    deadline = time.monotonic() + 60
    while session.epoch < 40 and time.monotonic() < deadline:
        session.wake.wait(0.5)
    session.take()
    session.handle({"type": "diagnose"})
    kinds = [finding["kind"] for finding in _wait_for(session, "diagnosis")["findings"]]
    assert "stuck_at_majority" in kinds


def test_regression_trains(session):
    session.take()
    session.handle({"type": "configure", "settings": _settings(
        dataset="multigaussian", loss="mean_squared_error", layers=[8, 8], activations=["tanh", "tanh"])})
    assert _wait_for(session, "model")["task"] == "regression"
    first = session.metrics["trainLoss"]
    for _ in range(5):
        session.handle({"type": "step"})
    deadline = time.monotonic() + 30
    while session.epoch < 5 and time.monotonic() < deadline:
        session.wake.wait(0.5)
    assert session.epoch == 5 and session.metrics["trainLoss"] < first
    assert session.metrics["trainAccuracy"] is None


def test_close_stops_the_training_thread(session):
    session.handle({"type": "play"})
    thread = session._thread
    session.close()
    assert not thread.is_alive() and session.model is None


def test_exported_script_is_valid_python_for_every_task():
    for changes in [{}, {"dataset": "spiral3", "loss": "categorical_crossentropy"},
                    {"dataset": "multigaussian", "loss": "mean_squared_error", "regularization": "l1",
                     "regularization_rate": 0.01}]:
        settings = parse_settings(_settings(**changes), Limits())
        compile(script(settings, 3), "train.py", "exec")
        model = build_model(settings)
        assert model.layers[-1].units == (3 if settings.task == "multiclass" else 1)


def test_same_seed_same_initial_weights_across_threads():
    settings = Settings(seed=9)
    results = []
    threads = [threading.Thread(target=lambda: results.append(build_model(settings).get_weights()))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for weights in results[1:]:
        for a, b in zip(results[0], weights, strict=True):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ server
def test_server_session_limit_and_freed_sessions():
    pytest.importorskip("starlette")
    from websockets.sync.client import connect

    from glassnet.playground.server import running_server

    with running_server(limits=Limits(max_sessions=1)) as (url, app):
        address = url.replace("http", "ws") + "/ws"
        with connect(address) as first:
            assert json.loads(first.recv(timeout=30))["type"] == "model"
            assert len(app.state.sessions) == 1
            with connect(address) as second:
                refused = json.loads(second.recv(timeout=30))
                assert refused["type"] == "error" and "1 sessions" in refused["message"]
        deadline = time.monotonic() + 10
        while app.state.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.sessions == {}
        with connect(address) as third:                     # served again
            assert json.loads(third.recv(timeout=30))["type"] == "model"


# ------------------------------------------------------------------ command line
def test_cli_has_the_playground_command_and_checks_its_arguments(capsys):
    from glassnet.cli import build_parser
    from glassnet.playground import main

    args = build_parser().parse_args(["playground", "--port", "70000", "--no-browser"])
    assert args.func is main and args.host == "127.0.0.1"
    assert main(args) == 2
    assert "--port must be in 0..65535, got 70000" in capsys.readouterr().err
    args = argparse.Namespace(port=0, host="127.0.0.1", no_browser=True, max_layers=0, max_units=16,
                              max_sessions=4)
    assert main(args) == 2
    assert "--max-layers must be in 1..64" in capsys.readouterr().err


def test_cli_warns_for_a_public_host_and_serves():
    code = ("import sys; from glassnet.cli import main; sys.exit(main(['playground', '--host', '0.0.0.0', "
            "'--port', '0', '--no-browser']))")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    try:
        warning = process.stdout.readline()
        address = process.stdout.readline()
        assert warning.startswith("WARNING: listening on 0.0.0.0")
        assert address.startswith("glassnet playground at http://0.0.0.0:")
        port = address.rsplit(":", 1)[1].split("/")[0]
        page = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(page, timeout=30) as response:
            assert "<title>glassnet playground</title>" in response.read().decode()
        with urllib.request.urlopen(page + "static/katex/katex.min.js", timeout=30) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_without_the_extra_the_command_says_how_to_install_it():
    code = ("import sys; sys.modules['starlette'] = None; from glassnet.cli import main; "
            "sys.exit(main(['playground', '--no-browser']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip() == "glassnet playground needs its extra: pip install 'glassnet[playground]'"


def test_the_core_does_not_import_the_playground():
    code = ("import sys, glassnet.models, glassnet.explain, glassnet.diagnostics, glassnet.cli; "
            "print(any(m.startswith(('glassnet.playground.server', 'starlette', 'uvicorn')) "
            "for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, check=True)
    assert result.stdout.strip() == "False"
