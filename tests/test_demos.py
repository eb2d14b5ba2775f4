"""The articles' three worked examples, as functions and as commands."""

import subprocess
import sys

from glassnet import demos
from glassnet.cli import main


def test_circles_demo_reaches_097():
    result = demos.circles(verbose=0)
    assert result.test_accuracy >= 0.97


def test_digit9_demo_beats_the_always_not_9_baseline():
    result = demos.digit9(verbose=0)
    assert 0.85 < result.baseline_accuracy < 0.95
    # error rate at most half the baseline's
    assert 1 - result.test_accuracy <= 0.5 * (1 - result.baseline_accuracy)
    assert result.model.layers[0].W.shape == (784, 1)


def test_fruit_demo_reaches_095():
    result = demos.fruit(verbose=0)
    assert result.test_accuracy >= 0.95
    assert result.model.layers[-1].activation.name == "softmax"


def test_cli_demo_prints_summary_progress_and_accuracy(capsys):
    assert main(["demo", "fruit", "--epochs", "3", "--verbose", "2"]) == 0
    out = capsys.readouterr().out
    assert "Layer (type)" in out and "Epoch 3/3" in out
    assert out.strip().splitlines()[-1].startswith("test accuracy: ")


def test_python_dash_m_glassnet_runs_a_demo():
    completed = subprocess.run(
        [sys.executable, "-m", "glassnet", "demo", "circles", "--epochs", "2", "--verbose", "0"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert completed.stdout.strip().splitlines()[-1].startswith("test accuracy: ")


def test_cli_explain_and_summary_of_a_saved_model(tmp_path, capsys):
    result = demos.fruit(verbose=0, epochs=1)
    path = tmp_path / "fruit.glassnet"
    result.model.save(path)
    assert main(["explain", str(path), "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "(16, 10)" in out and "dW" in out
    assert main(["summary", str(path)]) == 0
    assert "Total params: 187" in capsys.readouterr().out


def test_cli_demo_plots_writes_the_pictures_only_when_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "circles", "--epochs", "2", "--verbose", "0"]) == 0
    assert list(tmp_path.iterdir()) == []  # without --plots nothing is written
    plots = tmp_path / "plots"
    assert main(["demo", "circles", "--epochs", "2", "--verbose", "0", "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["circles-boundary.png", "circles-history.png", "circles-network.png",
                     "circles-training.gif"]
    for name in names:
        assert f"wrote {plots / name}" in out
