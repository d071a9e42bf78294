"""No import circle inside chaosllm.

Every module under ``chaosllm/`` is parsed (not imported) and each of its
imports of another chaosllm module becomes an edge of a graph: those at
module level and those inside functions alike, since a function-level import
that only dodges a circle still leaves the circle in the design. ``from X
import name`` is an edge to ``X.name`` when that is a module, else to ``X``.
Imports under ``if TYPE_CHECKING:`` never run and are left out. A circle is a
strongly connected component of more than one module, or a module that
imports itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chaosllm

ROOT = Path(chaosllm.__file__).resolve().parent
PACKAGE = "chaosllm"


@dataclass(frozen=True)
class Edge:
    target: str
    line: int
    scope: str  # "module level" or "in <function>"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, scope: str = "module level") -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement that can run, with the function it sits in."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), scope)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, scope
        inner = f"in {node.name}" if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else scope
        yield from _imports(node, inner)


def _known(name: str, known: dict[str, Path]) -> str | None:
    """The longest chaosllm module that ``name`` is or lies in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def edges(name: str, path: Path, known: dict[str, Path]) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node, scope in _imports(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                module = _known(target, known)
                if module is not None:
                    found.append(Edge(module, node.lineno, scope))
    return found


def graph() -> dict[str, list[Edge]]:
    known = modules()
    return {name: edges(name, path, known) for name, path in known.items()}


def circles(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph.get(node, []):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or any(e.target == node for e in graph.get(node, [])):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], graph: dict[str, list[Edge]]) -> str:
    """The component and one circle through it, each step with its line."""
    members = set(component)
    start = component[0]
    # Breadth-first from start back to start, inside the component.
    paths: dict[str, list[tuple[str, Edge]]] = {start: []}
    queue = [start]
    cycle: list[tuple[str, Edge]] = []
    while queue and not cycle:
        node = queue.pop(0)
        for edge in graph[node]:
            if edge.target == start:
                cycle = [*paths[node], (node, edge)]
                break
            if edge.target in members and edge.target not in paths:
                paths[edge.target] = [*paths[node], (node, edge)]
                queue.append(edge.target)
    steps = "\n".join(
        f"    {source} imports {edge.target} (line {edge.line}, {edge.scope})" for source, edge in cycle
    )
    return f"  {', '.join(component)}\n{steps}"


def test_the_graph_sees_module_and_function_level_imports() -> None:
    found = graph()
    assert {(e.target, e.scope) for e in found["chaosllm.docs"]} == {("chaosllm", "in render_activities")}
    # `from chaosllm.chaosmesh._spec import MANAGED_BY` is an edge to the module, not to a name.
    targets = {edge.target for edge in found["chaosllm.chaosmesh.probes"]}
    assert "chaosllm.chaosmesh._spec" in targets and "chaosllm.errors" in targets
    assert all(edge.target in found for edges in found.values() for edge in edges)


def test_circles_are_found() -> None:
    def edge(target: str) -> Edge:
        return Edge(target, 1, "module level")

    sample = {"a": [edge("b")], "b": [edge("c")], "c": [edge("a")], "d": [edge("d")], "e": [edge("a")]}
    assert circles(sample) == [["a", "b", "c"], ["d"]]
    assert "a imports b" in describe(["a", "b", "c"], sample)


def test_there_is_no_import_circle() -> None:
    found = graph()
    problems = [describe(component, found) for component in circles(found)]
    assert not problems, "import circles in chaosllm:\n" + "\n".join(problems)
