"""The worked-example notebooks run from top to bottom and reach the demos' accuracy.

Each notebook is executed in a fresh ``python3`` Jupyter kernel (ipykernel installs
that kernel into the same environment, so no ``jupyter kernelspec install`` is
needed). The notebooks are committed without outputs and must equal what
``examples/make_notebooks.py`` generates.
"""

import importlib.util
import json
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = ("circles", "digit9", "fruit")


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Execute each notebook once (in a temporary working directory); cache the result."""
    cache = {}

    def run(name: str) -> nbformat.NotebookNode:
        if name not in cache:
            nb = _read(name)
            workdir = tmp_path_factory.mktemp(name)
            resources = {"metadata": {"path": str(workdir)}}
            client = NotebookClient(nb, kernel_name="python3", timeout=120, resources=resources)
            try:  # a failing cell raises CellExecutionError with the cell and its traceback
                client.execute()
                cache[name] = nb
            except Exception as error:  # kept, and raised again by every test that needs it
                cache[name] = error
        if isinstance(cache[name], Exception):
            raise cache[name]
        return cache[name]

    return run


def _outputs(nb: nbformat.NotebookNode):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from ((cell, output) for output in cell.outputs)


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(
        output.text for _, output in _outputs(nb)
        if output.output_type == "stream" and output.name == "stdout"
    )


def _last_value(pattern: str, text: str) -> float:
    values = re.findall(pattern + r" ([0-9.]+)", text)
    assert values, f"no line {pattern!r} in the notebook's output"
    return float(values[-1])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs_and_matches_its_generator(name):
    on_disk = _read(name)
    for cell in on_disk.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}.ipynb has outputs: clear them (python examples/make_notebooks.py)"
            )
    generated = json.loads(nbformat.writes(_generator().build(name)))
    assert json.loads((EXAMPLES / f"{name}.ipynb").read_text(encoding="utf-8")) == generated, (
        f"{name}.ipynb differs from its generator: run python examples/make_notebooks.py"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_errors_or_warnings(name, executed):
    nb = executed(name)
    errors = [output for _, output in _outputs(nb) if output.output_type == "error"]
    assert errors == []
    stderr = "".join(
        output.text for _, output in _outputs(nb)
        if output.output_type == "stream" and output.name == "stderr"
    )
    # A fresh machine's first matplotlib import announces that it builds its font cache.
    stderr = re.sub(r"Matplotlib is building the font cache[^\n]*\n?", "", stderr)
    assert stderr == "", f"{name}.ipynb wrote to stderr:\n{stderr}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_shows_the_summary_table_the_equations_and_the_plots(name, executed):
    nb = executed(name)
    by_source = {cell.source: cell for cell in nb.cells if cell.cell_type == "code"}
    table = by_source["model"].outputs[0]["data"]["text/html"]
    assert "<table>" in table and "Param #" in table and "Total params" in table
    explain = next(cell for text, cell in by_source.items() if text.startswith("model.explain("))
    assert "dW[1] = A[0]ᵀ·dZ[1] / m" in explain.outputs[0]["data"]["text/plain"]
    assert "text/latex" in explain.outputs[0]["data"]
    assert "Trace of one example" in _stdout(nb)
    assert "Layer (type)" in _stdout(nb)  # model.summary()
    plot_cells = [
        cell for cell in by_source.values()
        if re.match(r"(plot_\w+\(|figure$)", cell.source.splitlines()[-1].strip())
    ]
    assert len(plot_cells) >= 2
    for cell in plot_cells:
        assert any("image/png" in output.get("data", {}) for output in cell.outputs), (
            f"no picture from the cell:\n{cell.source}"
        )


def test_circles_notebook_reaches_097(executed):
    out = _stdout(executed("circles"))
    assert "Epoch 50/50" in out
    assert _last_value("test accuracy:", out) >= 0.97
    assert "OK: all 10 gradients agree" in out  # gradient_check of the trained network


def test_digit9_notebook_halves_the_error_of_the_always_not_9_baseline(executed):
    out = _stdout(executed("digit9"))
    baseline = _last_value("always 'not 9' baseline accuracy:", out)
    accuracy = _last_value("test accuracy:", out)
    assert 0.85 < baseline < 0.95
    assert 1 - accuracy <= 0.5 * (1 - baseline)


def test_fruit_notebook_reaches_095(executed):
    out = _stdout(executed("fruit"))
    assert _last_value("test accuracy:", out) >= 0.95
