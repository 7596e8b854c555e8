"""``src/tiered`` has no import cycle: every ``import`` and ``from ... import`` of a tiered module counts, at
module level, inside functions and under ``TYPE_CHECKING`` alike (a cycle a type checker sees is one a reader
has to untangle too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tiered

SRC = Path(tiered.__file__).parent


def modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        found[".".join(parts)] = (path, package)
    return found


def imported(name: str, path: Path, package: bool, known: dict[str, tuple[Path, bool]]) -> Iterator[str]:
    """The tiered modules ``name`` imports (a package's ``__init__`` when it names a package)."""

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    here = name.split(".") if package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            if not node.level:
                base = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, the module mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "tiered":
                resolved = owner(target)
                if resolved is not None and resolved != name:
                    yield resolved


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root, targets in graph.items():
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, package, known)) for name, (path, package) in known.items()}


def test_src_tiered_has_no_import_cycle() -> None:
    found = [sorted(c) for c in cycles(import_graph())]
    assert found == [], f"import cycles in src/tiered: {found}"


def test_the_routing_core_imports_nothing_that_imports_it_back() -> None:
    graph = import_graph()
    core = {name for name in graph if name.startswith(("tiered.runner", "tiered.cascade"))} | {"tiered.router"}
    assert not any(c & core for c in cycles(graph))
    # the runner never reaches back into the router facade; the pure cascade never into the runner
    assert not any("tiered.router" in graph[name] for name in graph if name.startswith("tiered.runner"))
    assert not any(
        dep.startswith("tiered.runner") for name in graph if name.startswith("tiered.cascade") for dep in graph[name]
    )


def test_the_walk_finds_a_cycle_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []
