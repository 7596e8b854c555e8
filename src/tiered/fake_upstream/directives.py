"""Inline directives: ``[[fake key=value ...]]`` in the last user message scripts that one reply.

The grammar is documented in the package docstring (:mod:`tiered.fake_upstream`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from tiered.fake_upstream.scenario import Behaviour, model_matches

__all__ = ["Directive", "DirectiveError", "DirectiveItem", "behaviour_for", "find_directives"]

_DIRECTIVE = re.compile(r"\[\[fake\b(?P<body>.*?)\]\]", re.DOTALL)
_ITEM = re.compile(r"""(?:(?P<scope>[^\s:="\]]+):)?(?P<key>[a-z_][a-z0-9_]*)=(?P<value>"(?:[^"\\]|\\.)*"|[^\s"\]]+)""")


class DirectiveError(ValueError):
    """A directive cannot be read; the message names the offending item."""


@dataclass(frozen=True, slots=True)
class DirectiveItem:
    scope: str | None
    key: str
    value: str | None  # None is the bare word ``null``


@dataclass(frozen=True, slots=True)
class Directive:
    source: str  # the directive as written, used to count how often its fault fired
    items: tuple[DirectiveItem, ...]


def _number(value: str | None) -> float:
    try:
        return float(value if value is not None else "")
    except ValueError:
        raise DirectiveError(f"expected a number, got {value!r}") from None


def _integer(value: str | None) -> int:
    try:
        return int(value if value is not None else "")
    except ValueError:
        raise DirectiveError(f"expected an integer, got {value!r}") from None


def _text(value: str | None) -> str | None:
    return value


def _samples(value: str | None) -> tuple[dict[str, str | None], ...]:
    return tuple({"answer": None if part == "null" else part} for part in (value or "").split("|"))


# key -> (section, field, converter); section "" is the behaviour, "usage" and "fault" the nested models.
_KEYS: Final[dict[str, tuple[str, str, Callable[[str | None], Any]]]] = {
    "confidence": ("", "confidence", _number),
    "answer": ("", "answer", _text),
    "samples": ("", "samples", _samples),
    "tokens": ("", "tokens", _integer),
    "ttft": ("", "ttft_ms", _number),
    "ttft_ms": ("", "ttft_ms", _number),
    "tps": ("", "tokens_per_s", _number),
    "tokens_per_s": ("", "tokens_per_s", _number),
    "input_tokens": ("usage", "input_tokens", _integer),
    "output_tokens": ("usage", "output_tokens", _integer),
    "cache_read": ("usage", "cache_read_input_tokens", _integer),
    "cache_creation": ("usage", "cache_creation_input_tokens", _integer),
    "cache_creation_1h": ("usage", "cache_creation_1h_input_tokens", _integer),
    "web_searches": ("usage", "web_search_requests", _integer),
    "fault": ("fault", "kind", _text),
    "times": ("fault", "times", _integer),
    "p": ("fault", "probability", _number),
    "probability": ("fault", "probability", _number),
    "after": ("fault", "after_events", _integer),
    "retry_after": ("fault", "retry_after", _number),
    "hang": ("fault", "hang_s", _number),
    "message": ("fault", "message", _text),
}


def _parse_body(body: str) -> tuple[DirectiveItem, ...]:
    items: list[DirectiveItem] = []
    pos = 0
    for match in _ITEM.finditer(body):
        gap = body[pos : match.start()]
        if gap.strip():
            raise DirectiveError(f"cannot read {gap.strip()!r} in [[fake{body}]]")
        pos = match.end()
        key = match["key"]
        if key not in _KEYS:
            raise DirectiveError(f"unknown key {key!r} in [[fake{body}]]; known keys: {', '.join(_KEYS)}")
        raw = match["value"]
        value: str | None
        if raw.startswith('"'):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DirectiveError(f"bad quoted value {raw} for {key!r}: {exc.msg}") from None
        else:
            value = None if raw == "null" else raw
        items.append(DirectiveItem(match["scope"], key, value))
    if body[pos:].strip():
        raise DirectiveError(f"cannot read {body[pos:].strip()!r} in [[fake{body}]]")
    return tuple(items)


def find_directives(text: str) -> tuple[Directive, ...]:
    """Every ``[[fake ...]]`` directive in ``text``, in order. Raises :class:`DirectiveError`."""
    if "[[fake" not in text:  # the common case costs one substring test
        return ()
    return tuple(Directive(m[0], _parse_body(m["body"])) for m in _DIRECTIVE.finditer(text))


def behaviour_for(directives: tuple[Directive, ...], model: str) -> tuple[Behaviour, str] | None:
    """The behaviour the directives script for ``model`` (later items win) and the source of the last
    directive that scripted a fault (``""`` when none did); ``None`` when nothing applies to this model."""
    data: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    fault: dict[str, Any] = {}
    fault_source = ""
    for directive in directives:
        for item in directive.items:
            if item.scope is not None and not model_matches(item.scope, model):
                continue
            section, field, convert = _KEYS[item.key]
            if item.value is None and item.key != "answer":
                raise DirectiveError(f"{item.key!r} cannot be null")
            value = convert(item.value)
            if section == "usage":
                usage[field] = value
            elif section == "fault":
                fault[field] = value
                fault_source = directive.source
            elif item.key == "answer" and value is None:
                data.pop("answer", None)
                data["null_answer"] = True
            else:
                if item.key == "answer":
                    data.pop("null_answer", None)
                data[field] = value
    if usage:
        data["usage"] = usage
    if fault:
        if "kind" not in fault:
            raise DirectiveError("fault options (times, p, after, retry_after, hang, message) need fault=KIND")
        data["fault"] = fault
    if not data:
        return None
    try:
        return Behaviour.model_validate(data), fault_source
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise DirectiveError(f"[[fake]] {where}: {first['msg']}") from None
