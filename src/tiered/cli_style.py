"""How every ``tiered`` command's ``--help`` is drawn: plain text, exactly as written.

Typer draws help with Rich markup by default, which reads ``[...]`` as a style tag and drops it: ``pip install
'tiered[eval]'`` became ``pip install 'tiered'``, ``[[fake confidence=0.3]]`` became ``[]`` and every
``[default: ...]`` vanished. Plain (click) formatting keeps the text, wraps paragraphs to the terminal, keeps a
``\\b`` paragraph as written, and shows no ``<bool>`` metavar on flags. Usage lines name arguments the click way,
``PROMPT`` when required and ``[FILE]`` when not, instead of Typer's ``{prompt}``.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

__all__ = ["PlainCommand", "plain_typer"]


class PlainCommand(TyperCommand):
    """A command whose usage line writes arguments as ``NAME`` (required) and ``[NAME]`` (optional)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [_usage_piece(piece) for piece in pieces]


def _usage_piece(piece: str) -> str:
    if piece == "[OPTIONS]":
        return piece
    if piece.startswith("{") and "}" in piece:
        name, _, rest = piece[1:].partition("}")
        return name.upper() + rest
    if piece.startswith("[") and "]" in piece:
        name, _, rest = piece[1:].partition("]")
        return f"[{name.upper()}]{rest}"
    return piece


def plain_typer(**kwargs: Any) -> typer.Typer:
    """A Typer app (or sub-app) that draws help as plain text; its commands must use :class:`PlainCommand`."""
    return typer.Typer(rich_markup_mode=None, no_args_is_help=True, **kwargs)
