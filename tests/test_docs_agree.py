"""The README and the docs say the same true things: the quick start, the commands, the links."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def code_block(text: str, heading: str, language: str = "python") -> str:
    """The first ``language`` code block after ``heading``."""
    start = text.index(heading)
    match = re.search(rf"```{language}\n(.*?)```", text[start:], re.S)
    assert match, f"no {language} block after {heading!r}"
    return match.group(1)


def test_readme_quick_start_reaches_the_accuracy_it_states(tmp_path, monkeypatch, capsys):
    readme = read("README.md")
    source = code_block(readme, "## Quick start")
    assert "set_random_seed(0)" in source
    monkeypatch.chdir(tmp_path)                    # it saves circles.glassnet
    namespace: dict = {}
    exec(compile(source, "README quick start", "exec"), namespace)
    _, accuracy = namespace["model"].evaluate(namespace["X_test"], namespace["y_test"], verbose=0)
    stated = re.search(r"`set_random_seed\(0\)` it reaches a test accuracy of ([0-9.]+)", readme)
    assert stated and f"{accuracy:.2f}" == stated.group(1)
    assert (tmp_path / "circles.glassnet").exists()
    assert "Total params" in capsys.readouterr().out


def test_docs_index_repeats_the_readme_quick_start_and_test_command():
    readme, index = read("README.md"), read("docs/index.md")
    assert code_block(index, "## Quick start") == code_block(readme, "## Quick start")
    commands = re.findall(r"```bash\n(.*?)```", readme[readme.index("## Two commands"):], re.S)
    command = next(block.strip() for block in commands if "pytest" in block)
    assert command.startswith("bash .ci/install-mpi.sh") and command.endswith("python -m pytest -q")
    bash_blocks = re.findall(r"```bash\n(.*?)```", index, re.S)
    assert command in [block.strip() for block in bash_blocks]
    ci = read(".ci/run")                            # the same steps (pip quietly there)
    steps = [step.strip().replace("pip install -e", "python -m pip install -q -e")
             for step in command.split("&&")]
    assert all(step in ci for step in steps), steps


@pytest.mark.parametrize("name", ["README.md", "docs/distributed.md", "docs/index.md"])
def test_every_mpirun_command_runs_python_through_mpi4py(name):
    for command in re.findall(r"mpirun [^`\n]*-np [^`\n]*", read(name)):
        assert "python -m mpi4py" in command, (name, command)


def test_distributed_docs_say_how_to_run_as_root():
    text = read("docs/distributed.md")
    assert "mpirun --allow-run-as-root --oversubscribe -np 4 python -m mpi4py train.py" in text
    assert "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" in text


def test_articles_page_is_linked_and_names_each_article():
    articles = read("docs/articles.md")
    assert "(docs/articles.md)" in read("README.md")
    assert re.search(r"^\s+- [^:]+: articles\.md$", read("mkdocs.yml"), re.M)
    for expected in ("Deep Dive into Math Behind Deep Networks", "Piotr Skalski",
                     "Towards Data Science", "What does a neural network actually do?",
                     "July 5, 2021", "make_fruit", "demos.digit9", "plot_gradient_descent_1d"):
        assert expected in articles, expected
    assert articles.count("\n## ") == 4                       # one section per article


def test_the_softmax_example_of_the_fruit_article_is_what_glassnet_computes():
    from glassnet.activations import get

    articles = read("docs/articles.md")
    shown = re.search(r"is `\[\[([0-9., ]+)\]\]`", articles).group(1)
    computed = np.asarray(get("softmax")(np.array([[34.0, 32.0, 25.0]])))[0]
    np.testing.assert_allclose([float(v) for v in shown.split(",")], computed, atol=5e-4)
