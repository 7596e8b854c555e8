"""Every command's ``--help``, rendered at 80 and 120 columns, keeps its text as written (issue #20, item 1).

Rich markup used to eat square brackets (``pip install 'tiered[eval]'`` read ``pip install 'tiered'``,
``[[fake confidence=0.3]]`` read ``[]``, ``[default: ...]`` vanished), flags showed a ``<bool>`` metavar, reST
backticks leaked through and usage lines mixed ``{prompt}`` with ``[file]``. The walk below covers every
command the app has, so a new command inherits the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tiered.cli import app

runner = CliRunner()


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, [*path, name])


COMMANDS = list(_walk(typer.main.get_command(app), []))


def _squash(text: str) -> str:
    """Text without whitespace, so a paragraph matches however the terminal wrapped it."""
    return re.sub(r"\s+", "", text.replace("\b", ""))


def _sources(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [param.help for param in command.params if getattr(param, "help", None)]
    return [text.split("\f")[0] for text in texts]


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"ask", "serve", "backtest", "grade", "keys list", "db upgrade", "threshold set"} <= names


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "tiered" for p, _ in COMMANDS])
def test_help_shows_its_source_text_whole(path: list[str], command: Any, width: int) -> None:
    result = runner.invoke(app, [*path, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    out = result.output
    squashed = _squash(out)
    for text in _sources(command):
        assert _squash(text) in squashed, f"lost or altered in `{' '.join(path)} --help`: {text!r}"
    assert "``" not in out, "reST double backticks"
    assert "<bool>" not in out, "a flag shows a metavar"
    usage = out.splitlines()[0]
    assert usage.startswith("Usage: tiered") and "{" not in usage, usage
    assert max(len(line) for line in out.splitlines()) <= width


def test_bracketed_text_survives() -> None:
    """The three bracket losses the issue names, spelled out."""
    backtest = runner.invoke(app, ["backtest", "--help"], terminal_width=80).output
    assert "pip install 'tiered[eval]'" in backtest
    fake = runner.invoke(app, ["fake-upstream", "--help"], terminal_width=80).output
    assert "[[fake confidence=0.3]]" in fake
    for command in (["grade"], ["alerts"], ["threshold", "show"], ["report"], ["db", "upgrade"]):
        assert "[default:" in _squash(runner.invoke(app, [*command, "--help"], terminal_width=120).output)


def test_usage_names_arguments_one_way() -> None:
    assert runner.invoke(app, ["ask", "--help"]).output.splitlines()[0] == "Usage: tiered ask [OPTIONS] PROMPT"
    assert runner.invoke(app, ["backtest", "--help"]).output.splitlines()[0] == (
        "Usage: tiered backtest [OPTIONS] [FILE]"
    )


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tiered {version('tiered')}"
