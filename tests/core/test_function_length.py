"""The house rule: no function in ``src/tiered`` is over 60 lines (its ``def`` line to its last line).

Exempt, by name: the CLI option lists (a typer command's signature is one parameter per option; its body, from
the first statement after the docstring, must still be under the limit) and the migrations (a migration is one
flat list of DDL, kept as written when it shipped).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import tiered

LIMIT: Final = 60
SRC: Final = Path(tiered.__file__).parent

OPTION_LISTS: Final = frozenset({"offline/commands.py:backtest", "offline/eval_command.py:evaluate"})
MIGRATIONS: Final = "store/migrations/"

Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def length(node: Function) -> int:
    assert node.end_lineno is not None
    return node.end_lineno - node.lineno + 1


def body_length(node: Function) -> int:
    """From the first statement after the docstring to the last line."""
    body = node.body
    first = (
        body[1]
        if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        else body[0]
    )
    assert node.end_lineno is not None
    return node.end_lineno - first.lineno + 1


def measured() -> dict[str, tuple[int, int]]:
    """Every function of ``src/tiered`` outside the migrations: its length and its body's."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith(MIGRATIONS):
            continue
        for name, node in functions(ast.parse(path.read_text(), str(path))):
            found[f"{where}:{name}"] = (length(node), body_length(node))
    return found


def test_no_function_is_over_the_limit() -> None:
    found = measured()
    over = {name: size for name, (size, _) in found.items() if size > LIMIT}
    unexpected = sorted(name for name in over if name not in OPTION_LISTS)
    assert unexpected == [], f"over {LIMIT} lines: " + ", ".join(f"{name} ({over[name]})" for name in unexpected)


def test_option_lists_have_short_bodies() -> None:
    found = measured()
    for name in OPTION_LISTS:
        assert name in found, f"{name}: gone or renamed; update the exempt list"
        assert found[name][1] <= LIMIT, f"{name}: its body is {found[name][1]} lines"
