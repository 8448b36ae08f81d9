"""The shape of the house, checked from the code: the import graph of app/ and the size of its modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
FACES = ("app.cli", "app.ui")  # the command line and the dashboard's shared parts
COMPOSITION_ROOT = "app.services"
FACE_LIBRARIES = ("typer", "rich", "argparse", "click")
# The house rule is "about 600 lines": a few lines over is about 600, a screenful more is a second module.
MAX_MODULE_LINES = 620
# The scenario catalog is data written as code; the issue that set the limit exempts it.
SIZE_EXEMPT = ("app.golden.scenarios",)


def module_name(path: Path) -> str:
    """The dotted module name of a file under app/."""
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of app/ by dotted name (migrations excluded: Alembic loads them by path)."""
    return {
        module_name(path): path
        for path in sorted(APP.rglob("*.py"))
        if "migrations" not in path.relative_to(APP).parts
    }


def imports_of(path: Path, name: str) -> set[str]:
    """Every module a file imports, at any depth (a lazy import inside a function still counts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from app.evals import runner` imports the module app.evals.runner.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def internal_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports."""
    mods = modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        graph[name] = {target for target in imports_of(path, name) if target in mods and target != name}
    return graph


def in_package(module: str, package: str) -> bool:
    """True when ``module`` is ``package`` or inside it."""
    return module == package or module.startswith(package + ".")


def is_face(module: str) -> bool:
    """The CLI and the dashboard's parts may use face libraries and the composition root."""
    return any(in_package(module, face) for face in FACES)


def test_the_import_graph_has_no_cycles() -> None:
    graph = internal_graph()
    # Package __init__ modules are implied by every import below them; leaving them out keeps the
    # edges to what a module really uses.
    edges = {m: {t for t in targets if modules()[t].name != "__init__.py"} for m, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_library_imports_no_face() -> None:
    offenders = []
    for name, path in modules().items():
        if is_face(name) or name == COMPOSITION_ROOT:
            continue
        for target in imports_of(path, name):
            root = target.split(".")[0]
            if (
                root in FACE_LIBRARIES
                or in_package(target, COMPOSITION_ROOT)
                or any(in_package(target, face) for face in FACES)
            ):
                offenders.append(f"{name} imports {target}")
    assert not offenders, offenders


def test_only_app_ui_imports_streamlit() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if not in_package(name, "app.ui")
        for target in imports_of(path, name)
        if target.split(".")[0] == "streamlit"
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("app.logs", "app.evals"),
        ("app.llm", "app.logs"),
        ("app.store", "app.evals"),
        ("app.store", "app.golden"),
    ],
)
def test_layers_point_one_way(package: str, forbidden: str) -> None:
    graph = internal_graph()
    offenders = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if in_package(name, package)
        for target in targets
        if in_package(target, forbidden)
    ]
    assert not offenders, offenders


def test_no_module_outgrows_a_newcomers_hour() -> None:
    too_long = {
        name: lines
        for name, path in modules().items()
        if not any(in_package(name, exempt) for exempt in SIZE_EXEMPT)
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
