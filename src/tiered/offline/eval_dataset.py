"""The labelled dataset of ``tiered eval``: one JSON object per line, read into :class:`EvalItem` s.

A line holds the conversation, the reference answer and how to grade against it::

    {"id": "q1", "prompt": "What is 7 * 6?", "reference": 42, "grader": "numeric"}
    {"id": "q2", "messages": [{"role": "user", "content": "..."}], "system": "Be brief.",
     "reference": "B", "grader": "multiple_choice", "group": "medicine"}

Fields: ``prompt`` (a string: one user message) or ``messages`` (a Messages API list ending with a user
message), optional ``system``; ``reference`` (a string or number, or a list of acceptable ones); optional
``grader`` (``exact``, ``numeric``, ``multiple_choice`` or ``judge``; default from ``--grader``),
``tolerance`` and ``relative_tolerance`` (numeric), ``choices`` (multiple choice: the option texts, in letter
order), ``group`` (a slice of the report), ``id`` (default: the line number) and ``max_tokens``. Other keys
are ignored, so a dataset may carry its own metadata.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

from tiered.errors import ConfigError
from tiered.offline.eval_answers import extract_choice, parse_number

__all__ = ["GRADERS", "EvalDatasetError", "EvalItem", "GraderName", "load_dataset", "parse_item"]

GraderName = Literal["exact", "numeric", "multiple_choice", "judge"]
GRADERS: Final[tuple[str, ...]] = get_args(GraderName)
_ROLES: Final = ("user", "assistant")


class EvalDatasetError(ConfigError):
    """A dataset line cannot be evaluated; the message names the file, the line and the field."""


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One labelled query. ``messages`` and ``system`` are Messages API values, passed through as given."""

    id: str
    messages: tuple[dict[str, Any], ...]
    reference: tuple[str | float, ...]
    grader: GraderName
    system: str | list[dict[str, Any]] | None = None
    tolerance: float = 1e-6
    relative_tolerance: float = 0.0
    choices: tuple[str, ...] = ()
    group: str | None = None
    max_tokens: int | None = None

    def request(self, default_max_tokens: int) -> dict[str, Any]:
        """The Messages request the route gets for this item (its ``model`` is set per tier)."""
        body: dict[str, Any] = {
            "max_tokens": self.max_tokens or default_max_tokens,
            "messages": [dict(m) for m in self.messages],
        }
        if self.system is not None:
            body["system"] = self.system
        return body

    def question_text(self) -> str:
        """The conversation as plain text (for the judge)."""
        parts: list[str] = []
        if isinstance(self.system, str) and self.system:
            parts.append(f"[system] {self.system}")
        for message in self.messages:
            parts.append(f"[{message['role']}] {_content_text(message.get('content'))}")
        return "\n".join(parts)


def load_dataset(path: Path, *, default_grader: GraderName = "exact") -> list[EvalItem]:
    """Read every item of a JSONL dataset; raises :class:`EvalDatasetError` at the first bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise EvalDatasetError(f"cannot read the dataset {path}: {exc.strerror or exc}. Check the path.") from exc
    except UnicodeDecodeError as exc:
        raise EvalDatasetError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8.") from exc
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}, line {lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDatasetError(f"{where}: not valid JSON ({exc.msg}).") from exc
        item = parse_item(raw, default_id=str(lineno), default_grader=default_grader, where=where)
        if item.id in seen:
            raise EvalDatasetError(
                f"{where}: id {item.id!r} was already used on line {seen[item.id]}; ids must differ."
            )
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise EvalDatasetError(f"{path} holds no items; write one JSON object per line (see `tiered eval --help`).")
    return items


def parse_item(raw: Any, *, default_id: str, default_grader: GraderName = "exact", where: str = "item") -> EvalItem:
    """Validate one decoded line."""
    if not isinstance(raw, dict):
        raise EvalDatasetError(f"{where}: each line must be a JSON object.")
    messages = _messages(raw, where)
    grader = raw.get("grader", default_grader)
    if grader not in GRADERS:
        raise EvalDatasetError(f"{where}: grader must be one of {', '.join(GRADERS)}, got {grader!r}.")
    reference = _reference(raw, where)
    if grader == "numeric":
        for ref in reference:
            if parse_number(ref) is None:
                raise EvalDatasetError(f"{where}: the numeric grader needs a number as reference, got {ref!r}.")
    choices = raw.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise EvalDatasetError(f"{where}: choices must be a list of strings (the options, in letter order).")
    if grader == "multiple_choice":
        for ref in reference:
            if extract_choice(str(ref), tuple(choices)) is None:
                raise EvalDatasetError(f"{where}: the multiple-choice reference {ref!r} names no option letter (A-J).")
    system = raw.get("system")
    if system is not None and not isinstance(system, str | list):
        raise EvalDatasetError(f"{where}: system must be a string or a list of text blocks.")
    group = raw.get("group")
    if group is not None and not isinstance(group, str):
        raise EvalDatasetError(f"{where}: group must be a string.")
    max_tokens = raw.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise EvalDatasetError(f"{where}: max_tokens must be a positive integer.")
    ident = raw.get("id", default_id)
    if not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident):
        raise EvalDatasetError(f"{where}: id must be a non-empty string or an integer.")
    return EvalItem(
        id=str(ident),
        messages=messages,
        reference=reference,
        grader=grader,
        system=system,
        tolerance=_tolerance(raw, "tolerance", 1e-6, where),
        relative_tolerance=_tolerance(raw, "relative_tolerance", 0.0, where),
        choices=tuple(choices),
        group=group,
        max_tokens=max_tokens,
    )


def _messages(raw: dict[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    prompt, messages = raw.get("prompt"), raw.get("messages")
    if (prompt is None) == (messages is None):
        raise EvalDatasetError(f"{where}: give either prompt (a string) or messages (a Messages API list).")
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise EvalDatasetError(f"{where}: prompt must be a non-empty string.")
        return ({"role": "user", "content": prompt},)
    if not isinstance(messages, list) or not messages:
        raise EvalDatasetError(f"{where}: messages must be a non-empty list.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES or "content" not in message:
            raise EvalDatasetError(
                f"{where}: messages[{index}] must be an object with role (user or assistant) and content."
            )
    if messages[-1]["role"] != "user":
        # An assistant prefill is never triaged (the reply must continue it), so the route has nothing to test.
        raise EvalDatasetError(f"{where}: the last message must be the user's; a prefill is never triaged.")
    return tuple(messages)


def _reference(raw: dict[str, Any], where: str) -> tuple[str | float, ...]:
    if "reference" not in raw:
        raise EvalDatasetError(f"{where}: reference (the right answer) is missing.")
    value = raw["reference"]
    values = value if isinstance(value, list) else [value]
    out: list[str | float] = []
    for ref in values:
        if isinstance(ref, bool) or not isinstance(ref, str | int | float):
            raise EvalDatasetError(f"{where}: reference must be a string, a number or a list of them, got {ref!r}.")
        if isinstance(ref, float) and not math.isfinite(ref):
            raise EvalDatasetError(f"{where}: reference must be finite.")
        out.append(ref if isinstance(ref, str) else float(ref))
    if not out:
        raise EvalDatasetError(f"{where}: reference is an empty list; give at least one right answer.")
    return tuple(out)


def _tolerance(raw: dict[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise EvalDatasetError(f"{where}: {key} must be a number >= 0.")
    return float(value)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""
