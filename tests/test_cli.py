"""The ``glassnet`` command's errors: one line on stderr naming the cause and the fix,
exit status 2, no traceback, and found before any training or writing starts.

Most cases call :func:`glassnet.cli.main` in this process, with the demos replaced by
functions that fail the test if called (so "before any training" is checked); a few run
the real ``python -m glassnet`` in a subprocess, where a missing optional extra is
simulated by a ``sys.modules`` entry set to ``None`` (which makes its import fail).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from glassnet import cli, demos
from glassnet.layers import Dense
from glassnet.models import Sequential, load_model

SOURCE = os.path.join(os.path.dirname(os.path.abspath(cli.__file__)), os.pardir)


@pytest.fixture
def no_training(monkeypatch):
    """Replace every demo with one that fails the test: errors must come before training."""

    def trained(**kwargs):
        raise AssertionError(f"training started although the command line is invalid ({kwargs})")

    monkeypatch.setattr(demos, "DEMOS", {name: trained for name in demos.DEMOS})


@pytest.fixture
def model_file(tmp_path):
    model = Sequential([Dense(3, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    path = tmp_path / "good.glassnet"
    model.save(path)
    return path


def _fails(capsys, argv, *fragments):
    """``main(argv)`` exits with status 2 and one stderr line holding every fragment."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out, err = capsys.readouterr()
    assert status == 2, (status, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glassnet"), err
    for fragment in fragments:
        assert str(fragment) in lines[0], (fragment, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["demo", "circles", "--epochs", "-5"], ["--epochs", "expected an integer >= 1, got '-5'"]),
        (["demo", "circles", "--epochs", "0"], ["--epochs", ">= 1, got '0'"]),
        (["demo", "circles", "--epochs", "ten"], ["--epochs", "got 'ten'"]),
        (["demo", "fruit", "--seed", "-1"], ["--seed", "expected an integer >= 0, got '-1'"]),
        (["demo", "digit9", "--seed", "1.5"], ["--seed", "got '1.5'"]),
        (["demo", "circles", "--verbose", "3"], ["--verbose", "invalid choice"]),
        (["demo", "squares"], ["invalid choice: 'squares'"]),
        (["export", "a.glassnet", "b.onnx", "--opset", "0"], ["--opset", ">= 1"]),
    ],
)
def test_bad_numbers_and_choices_are_one_line_before_training(capsys, no_training, argv, fragments):
    _fails(capsys, argv, *fragments)


def test_explain_batch_size_zero(capsys, model_file):
    _fails(capsys, ["explain", str(model_file), "--batch-size", "0"], "--batch-size", ">= 1, got '0'")


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("command", ["explain", "summary", "export"])
@pytest.mark.parametrize("kind", ["missing", "folder", "not-a-zip", "truncated", "empty"])
def test_missing_or_damaged_model_files(capsys, tmp_path, model_file, command, kind):
    path = tmp_path / "bad.glassnet"
    if kind == "missing":
        expected = "no model file at"
    elif kind == "folder":
        path.mkdir()
        expected = "not a readable zip archive"
    elif kind == "not-a-zip":
        path.write_bytes(b"hello, not a model")
        expected = "not a glassnet model file"
    elif kind == "truncated":
        path.write_bytes(model_file.read_bytes()[:300])
        expected = "Cannot load"
    else:
        path.write_bytes(b"")
        expected = "not a glassnet model file"
    argv = [command, str(path)] + ([str(tmp_path / "out.onnx")] if command == "export" else [])
    _fails(capsys, argv, expected, str(path))
    assert not (tmp_path / "out.onnx").exists()


def test_demo_with_a_missing_mnist_path(capsys, no_training, tmp_path):
    _fails(capsys, ["demo", "digit9", "--mnist", str(tmp_path / "nope.csv")], "--mnist", "does not exist")


# --------------------------------------------------------------------------- --plots
def test_plots_without_the_viz_extra_names_the_pip_command_before_training(
    capsys, no_training, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the extra gives
    plots = tmp_path / "plots"
    _fails(capsys, ["demo", "circles", "--plots", str(plots)], "--plots", 'pip install "glassnet[viz]"')
    assert not plots.exists()  # no empty folder left behind


def test_plots_folder_that_cannot_be_created(capsys, no_training, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    _fails(capsys, ["demo", "circles", "--plots", str(afile / "plots")], "--plots", "is a file")
    _fails(capsys, ["demo", "circles", "--plots", str(afile)], "--plots", "is a file")


def test_plots_folder_that_is_read_only(capsys, no_training, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the un-creatable folder test covers root")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _fails(capsys, ["demo", "circles", "--plots", str(folder / "plots")], "--plots", "cannot write in")
        _fails(capsys, ["demo", "circles", "--plots", str(folder)], "--plots", "cannot write in")
    finally:
        folder.chmod(0o755)


def test_plots_folder_on_a_read_only_file_system(capsys, no_training):
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("needs Linux's /sys, which refuses new files and folders even to root")
    _fails(capsys, ["demo", "circles", "--plots", "/sys/glassnet-plots"], "--plots", "/sys")


# --------------------------------------------------------------------------- export
def test_export_without_the_onnx_extra_names_the_pip_command(capsys, tmp_path, model_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "glassnet.onnx", None)
    out = tmp_path / "model.onnx"
    _fails(capsys, ["export", str(model_file), str(out)], 'pip install "glassnet[onnx]"')
    assert not out.exists()


@pytest.mark.parametrize("variant", ["same-string", "dot-path", "hard-link", "symlink"])
def test_export_onto_its_own_input_is_refused_and_the_model_kept(capsys, tmp_path, model_file, variant):
    before = model_file.read_bytes()
    if variant == "same-string":
        target = model_file
    elif variant == "dot-path":
        target = tmp_path / "." / model_file.name
    elif variant == "hard-link":
        target = tmp_path / "hard.onnx"
        os.link(model_file, target)
    else:
        target = tmp_path / "soft.onnx"
        target.symlink_to(model_file)
    _fails(capsys, ["export", str(model_file), str(target)], "is the same file as model")
    assert model_file.read_bytes() == before
    load_model(model_file)


def test_export_onto_a_folder_is_refused(capsys, tmp_path, model_file):
    _fails(capsys, ["export", str(model_file), str(tmp_path)], "onnx", "is a folder")


def test_export_works(capsys, tmp_path, model_file):
    pytest.importorskip("onnx")
    assert cli.main(["export", str(model_file), str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 0


# --------------------------------------------------------------------------- the real command
def _run(*code_or_args, block=()):
    """``python -m glassnet ARGS`` (or ``-c CODE``) with ``block`` modules unimportable."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in block)
    if code_or_args and code_or_args[0] == "-c":
        code = prelude + code_or_args[1]
    else:
        code = prelude + f"from glassnet.cli import main\nsys.exit(main({list(code_or_args)!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.path.abspath(SOURCE)},
    )


def _one_line_exit_2(completed, *fragments):
    assert completed.returncode == 2, completed
    assert "Traceback" not in completed.stderr, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_python_m_glassnet_explain_of_a_missing_file(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "glassnet", "explain", str(tmp_path / "missing.glassnet")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.path.abspath(SOURCE)},
    )
    _one_line_exit_2(completed, "glassnet explain: error: no model file at", "missing.glassnet")


def test_real_command_plots_without_matplotlib_trains_nothing(tmp_path):
    plots = tmp_path / "plots"
    completed = _run("demo", "circles", "--plots", str(plots), block=["matplotlib"])
    _one_line_exit_2(completed, 'pip install "glassnet[viz]"')
    assert completed.stdout == ""  # no summary, no epochs
    assert not plots.exists()


def test_real_command_export_without_onnx_and_onto_itself(tmp_path, model_file):
    _one_line_exit_2(_run("export", str(model_file), str(tmp_path / "m.onnx"), block=["onnx"]),
                     'pip install "glassnet[onnx]"')
    before = model_file.read_bytes()
    _one_line_exit_2(_run("export", str(model_file), str(model_file)), "is the same file as model")
    assert model_file.read_bytes() == before
    assert np.isfinite(load_model(model_file).get_weights()[0]).all()


# --------------------------------------------------------------------------- other frameworks' files
@pytest.fixture
def onnx_file(tmp_path, model_file):
    from glassnet.onnx import export

    path = tmp_path / "model.onnx"
    export(load_model(model_file), path)
    return path


@pytest.mark.parametrize("command", ["explain", "summary"])
def test_explain_and_summary_open_onnx_files(capsys, onnx_file, command):
    assert cli.main([command, str(onnx_file)]) == 0
    assert "dense" in capsys.readouterr().out


def test_trace_prints_the_numbers_of_model_trace(capsys, model_file, onnx_file):
    """The command's numbers are those of Sequential.trace for the same example."""
    for path in (model_file, onnx_file):
        assert cli.main(["trace", str(path), "--x", "0.3,-1.2", "--y", "1"]) == 0
        out = capsys.readouterr().out
        model = load_model(path)
        if not model.compiled:
            model.compile(optimizer="sgd", loss="binary_crossentropy")
        expected = str(model.trace(np.array([0.3, -1.2]), np.array([1.0]), show=False))
        assert out.strip() == expected.strip()


@pytest.mark.parametrize("argv, fragments", [
    (["--x", "0.3"], ["--x has 1 numbers", "2 features"]),
    (["--x", "a,b"], ["--x must be numbers separated by commas"]),
    (["--x", "0.3,1"], ["--y is needed"]),
])
def test_trace_errors_are_one_line(capsys, model_file, argv, fragments):
    _fails(capsys, ["trace", str(model_file), *argv], *fragments)


def test_diagnose_reads_a_csv_and_finds_unscaled_inputs(capsys, tmp_path, onnx_file):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)) * np.array([1.0, 500.0])
    y = (X[:, 0] > 0).astype(int)
    data = tmp_path / "data.csv"
    data.write_text("a,b,label\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X, y, strict=True)))
    assert cli.main(["diagnose", str(onnx_file), str(data)]) == 0
    out = capsys.readouterr().out
    assert "input" in out.lower() and "scale" in out.lower()
    _fails(capsys, ["diagnose", str(onnx_file), str(tmp_path / "missing.csv")], "no data file")
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,4\n")
    _fails(capsys, ["diagnose", str(onnx_file), str(bad)], "2 columns", "2 features")
