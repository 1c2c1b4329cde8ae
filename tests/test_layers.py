"""The layer rules import-linter cannot see (pyproject's [tool.importlinter] has the rest).

Read from the source with `ast`, so nothing is imported: `nox -s lint` runs this file
beside lint-imports, and the test suite runs it too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOOLKIT = Path(__file__).resolve().parent.parent / "toolkit"
MODULES = sorted(TOOLKIT.rglob("*.py"))

# Layers allowed to print: the CLI, and renderers that write to a stream they are given.
PRINTING = ("cli", "render")

# A function-local import is allowed only for start-up cost, never to hide a cycle.
# module imported inside a function -> why it is not imported at the top
LATE_IMPORTS = {
    "hypothesis": "~0.3 s: only fuzz needs it",
    "toolkit.stages.fuzz.explore": "imports hypothesis (~0.3 s): only when fuzzing",
    "toolkit.stages.fuzz.simplify": "imports strategies, so hypothesis (~0.3 s): only fuzzing",
    "toolkit.stages.fuzz.strategies": "imports hypothesis, for a type only (TYPE_CHECKING)",
    "deepdiff": "~0.15 s: only when two documents differ",
    "jsonschema": "~70 ms: only verify and the drift JSON check schemas",
    "jsonschema.protocols": "jsonschema, for a type only (TYPE_CHECKING)",
    "rich.progress": "~40 ms: only on a terminal",
    "hashlib": "OpenSSL's load costs ~10 ms: only when a binary is new to the probe cache",
    "toolkit.qemu.provision.install": "apt and dpkg machinery: only when no qemu-img is found",
}
MAX_LINES = 250


def _module_name(path: Path) -> str:
    parts = path.relative_to(TOOLKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert node.level == 0, "relative imports are not used in toolkit/"
    base = node.module or ""
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _layer(path: Path) -> str:
    return path.relative_to(TOOLKIT).parts[0]


def _function_local_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        is_scope = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        is_type_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        if is_scope or is_type_only:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append((inner.lineno, _imported(inner)[0]))
    return found


def _graph() -> dict[str, set[str]]:
    """module -> the toolkit modules it imports (anywhere in it)."""
    names = {_module_name(p) for p in MODULES}
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        edges = graph.setdefault(_module_name(path), set())
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(n for n in _imported(node) if n in names)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a path that comes back to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TOOLKIT)))
def test_print_only_in_cli_and_render(path: Path) -> None:
    if _layer(path) in PRINTING:
        return
    calls = [
        n.lineno
        for n in ast.walk(_tree(path))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    assert not calls, (
        f"{path}: print() on line(s) {calls}; return the text and let cli/render show it"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TOOLKIT)))
def test_function_local_imports_only_for_start_up_cost(path: Path) -> None:
    late = _function_local_imports(_tree(path))
    unexplained = [(line, name) for line, name in late if name not in LATE_IMPORTS]
    # cli/main.py imports the one sub-command module being run, by name (importlib).
    assert not unexplained, (
        f"{path}: function-local import(s) {unexplained}: import at the top, or add the module "
        "to LATE_IMPORTS with the start-up cost it saves (never to hide a cycle)"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TOOLKIT)))
def test_modules_are_small_or_say_why(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    doc = ast.get_docstring(_tree(path)) or ""
    assert lines <= MAX_LINES or f"over {MAX_LINES} lines" in doc.lower(), (
        f"{path}: {lines} lines; split it, or say in its docstring why it is over {MAX_LINES} lines"
    )


def test_init_files_hold_no_code() -> None:
    """Empty __init__.py files keep start-up fast: importing a layer runs nothing."""
    for path in TOOLKIT.rglob("__init__.py"):
        body = _tree(path).body
        code = [
            n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        ]
        assert not code, f"{path}: an __init__.py holds code (line {code[0].lineno})"


def test_no_import_cycle() -> None:
    assert find_cycle(_graph()) is None, f"import cycle: {' -> '.join(find_cycle(_graph()) or [])}"


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = _graph()
    assert "toolkit.baseline.tree" in graph["toolkit.baseline.profiles"]
    graph["toolkit.baseline.tree"].add("toolkit.baseline.profiles")  # planted
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"toolkit.baseline.tree", "toolkit.baseline.profiles"} <= set(cycle)


def test_the_layers_are_what_ls_shows() -> None:
    layers = sorted(p.name for p in TOOLKIT.iterdir() if (p / "__init__.py").is_file())
    assert layers == ["baseline", "cli", "model", "qemu", "render", "stages"]
