"""The architecture rules of docs/architecture.md, checked on the source itself.

* No import cycles between glassnet's modules, counting imports inside functions too
  (a function-level import that closes a cycle is still a cycle).
* The core never imports the extras: a user with only NumPy installed can train, explain
  and save, and the extras build on the core, never the other way round.
* ``import glassnet`` and the core import no optional dependency.
"""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "glassnet"

#: Modules (and packages) built on the core, each with optional dependencies of its own.
EXTRAS = {"viz", "sklearn", "onnx", "distributed", "cli", "demos", "playground", "__main__"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The glassnet modules an import statement names (``from glassnet import x`` names
    ``glassnet.x`` when that is a module)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                 for alias in node.names}
    found = set()
    for name in names:
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module and name.startswith("glassnet"):
            found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = set().union(*(
            _imported(module, node) for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def _is_extra(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] in EXTRAS


def test_there_are_no_import_cycles():
    # The package's __init__ only maps names to modules lazily; it imports none of them.
    graph = {module: deps - {"glassnet"} for module, deps in _graph().items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_never_imports_an_extra():
    graph = _graph()
    offenders = {
        module: sorted(dep for dep in deps if _is_extra(dep))
        for module, deps in graph.items() if not _is_extra(module)
    }
    assert {module: deps for module, deps in offenders.items() if deps} == {}


def test_the_extras_are_known_modules():
    """A renamed extra must not silently drop out of the rule above."""
    present = {module.split(".")[1] for module in MODULES if "." in module}
    assert {"viz", "sklearn", "onnx", "distributed", "cli", "demos"} <= present


def test_importing_glassnet_and_training_needs_only_numpy():
    code = (
        "import sys\n"
        "import glassnet, glassnet.models, glassnet.layers, glassnet.training, glassnet.explain\n"
        "import glassnet.diagnostics, glassnet.saving\n"
        "optional = {'matplotlib', 'sklearn', 'onnx', 'onnxruntime', 'mpi4py', 'torch', 'tqdm',\n"
        "            'numba', 'starlette', 'uvicorn', 'h5py', 'keras', 'jax', 'PIL', 'pandas'}\n"
        "print(sorted(optional & set(sys.modules)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60, check=True)
    assert completed.stdout.strip() == "[]"


def test_submodules_are_attributes_loaded_on_first_use():
    code = (
        "import sys, glassnet\n"
        "assert 'glassnet.sklearn' not in sys.modules and 'sklearn' not in sys.modules\n"
        "assert 'sklearn' in dir(glassnet) and 'viz' in dir(glassnet)\n"
        "print(glassnet.sklearn.GlassnetClassifier.__name__, glassnet.viz.plot_history.__name__,\n"
        "      glassnet.onnx.export.__name__, glassnet.training.Trainer.__name__)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120, check=True)
    assert completed.stdout.split() == ["GlassnetClassifier", "plot_history", "export", "Trainer"]
