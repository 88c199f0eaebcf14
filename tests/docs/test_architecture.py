"""The layering docs/architecture.md describes, checked: no import cycles in src/, counting imports
inside functions too (only imports under ``TYPE_CHECKING``, for annotations, are left out)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.paths import SRC

PACKAGE = SRC / "trajectories"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package that *name* imports (at any depth of its code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()

    def resolve(level: int, module: str | None) -> str:
        if not level:
            return module or ""
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, *(module.split(".") if module else [])])

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in modules:
                        out.add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                target = resolve(child.level, child.module)
                for alias in child.names:
                    full = f"{target}.{alias.name}"
                    if full in modules:
                        out.add(full)  # `from pkg import submodule`
                    elif target in modules:
                        out.add(target)
            visit(child)

    visit(tree)
    out.discard(name)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)) is not None:
            return found
    return None


def test_the_detector_finds_a_cycle_through_an_import_inside_a_function(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_are_counted() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # serve() imports the receiver inside a function (the server extra): it must still be seen
    assert "trajectories._internal.otlp.receiver" in graph["trajectories._internal.otlp.service"]


def test_there_is_no_import_cycle_in_src() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_model_knows_nothing_of_spans_stores_or_the_command_line() -> None:
    modules = _modules()
    for name, path in modules.items():
        if not name.startswith("trajectories._internal.model"):
            continue
        for imported in _imports(name, path, modules):
            assert imported.startswith(
                ("trajectories._internal.model", "trajectories._internal.validate", "trajectories._internal.exceptions")
            ) or imported in ("trajectories._internal.diagnostics",), f"{name} imports {imported}"
