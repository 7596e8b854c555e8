"""Features of a triage that cost no extra call: what the cheap tier said and what it was asked.

A confidence strategy other than the bare self-report needs more than one number, and the cheapest numbers
are the ones already in hand when the cheap answer arrives: its stated confidence, the answer's length and
shape, hedging, refusal and self-correction markers, whether it ends on a final answer, how much it repeats
itself, whether the arithmetic it writes out is right, and the request's size, kind and conversation depth.
:func:`features` turns one :class:`SignalInput` into a fixed-order tuple of floats named by
:data:`FEATURE_NAMES`; it is pure (no I/O, no clock, no randomness) and uses only the standard library, so
the live ``learned`` strategy can call it on the hot path and the offline evaluation on recorded outcomes.

Counts enter as ``log1p`` so one very long answer does not dominate a linear model.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["FEATURE_NAMES", "REQUEST_KINDS", "SignalInput", "arithmetic_checks", "features"]

REQUEST_KINDS: Final = ("chat", "code", "math", "tools", "other")
"""The request kinds one-hot encoded; any other kind counts as ``other``."""

FEATURE_NAMES: Final = (
    "stated_confidence",
    "has_stated_confidence",
    "answer_log_chars",
    "answer_log_lines",
    "answer_log_numbers",
    "final_answer_marker",
    "final_answer_numeric",
    "hedges",
    "refusal",
    "self_corrections",
    "repetition",
    "arithmetic_checks",
    "arithmetic_error_share",
    "request_numbers_used",
    "request_log_chars",
    "request_log_numbers",
    "conversation_log_turns",
    *(f"kind_{kind}" for kind in REQUEST_KINDS),
)


@dataclass(frozen=True, slots=True)
class SignalInput:
    """What is known once the cheap tier has answered.

    ``stated_confidence`` is on [0, 1] (None when the tier gave none); ``request_text`` is the text of the
    last user turn, ``turns`` the number of user turns so far, ``kind`` one of :data:`REQUEST_KINDS`.
    """

    answer: str
    stated_confidence: float | None = None
    request_text: str = ""
    turns: int = 1
    kind: str = "chat"


_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
# Marker patterns are lower case and run on the lower-cased answer: re.IGNORECASE was 2-4 times slower.
_FINAL = re.compile(r"####|\bthe (?:final )?answer is\b|\bfinal answer\b|\\boxed\{|\btherefore,? the\b|\banswer:")
_FINAL_NUMERIC = re.compile(
    r"(?:####|\bthe (?:final )?answer is|\bfinal answer:?|\\boxed\{|\banswer:)\s*\**\s*[$]?\s*-?\d"
)
_HEDGES = re.compile(
    r"\b(?:maybe|perhaps|might|possibly|probably|likely|i think|i believe|not sure|unsure|unclear|"
    r"approximately|roughly|it seems|seems to|assuming|assume|estimate|i guess|could be|uncertain)\b"
)
_REFUSAL = re.compile(
    r"\b(?:i can(?:no|')t|i am unable|i'm unable|i am not able|i'm not able|as an ai|i don't have enough|"
    r"not enough information|cannot be determined|can't be determined|i apologi[sz]e)\b"
)
_SELF_CORRECTION = re.compile(
    r"\b(?:wait|actually|let me re\w*|correction|mistake|i made an error|recalculat\w*|re-?evaluat\w*|"
    r"on second thought|however, since)\b"
)
# A written-out calculation: GSM8K-style <<expr=value>> annotations, or "expr = value" with an operator.
_ANNOTATED = re.compile(r"<<([^<>=]{1,80})=([^<>]{1,40})>>")
_INLINE = re.compile(
    r"((?:[(]*\$?\d[\d,]*(?:\.\d+)?%?\)*\s*[-+*/x×÷]\s*)+[(]*\$?\d[\d,]*(?:\.\d+)?%?\)*)"
    # the result is a plain number, not the start of another expression ("2 + 1/2 = 5/2")
    r"\s*=\s*\$?(-?\d[\d,]*(?:\.\d+)?)(?![\d.,]*\s*[-+*/x×÷]\s*[\d(])"
)
_WORD = re.compile(r"[a-z0-9']+")

_OPS: Final[dict[type[ast.AST], Callable[[float, float], float]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def features(signal: SignalInput) -> tuple[float, ...]:
    """The features of ``signal`` in the order of :data:`FEATURE_NAMES`."""
    answer = signal.answer
    lower = answer.lower()
    stated = signal.stated_confidence
    has_stated = stated is not None and math.isfinite(stated)
    checks, wrong = arithmetic_checks(answer)
    answer_numbers = _numbers(answer)
    request_numbers = _numbers(signal.request_text)
    kind = signal.kind if signal.kind in REQUEST_KINDS else "other"
    return (
        min(max(stated, 0.0), 1.0) if has_stated and stated is not None else 0.0,
        1.0 if has_stated else 0.0,
        math.log1p(len(answer)),
        math.log1p(sum(1 for line in answer.splitlines() if line.strip())),
        math.log1p(len(answer_numbers)),
        1.0 if _FINAL.search(lower) else 0.0,
        1.0 if _FINAL_NUMERIC.search(lower) else 0.0,
        math.log1p(len(_HEDGES.findall(lower))),
        1.0 if _REFUSAL.search(lower) else 0.0,
        math.log1p(len(_SELF_CORRECTION.findall(lower))),
        _repetition(answer),
        math.log1p(checks),
        wrong / checks if checks else 0.0,
        _share_used(request_numbers, answer_numbers),
        math.log1p(len(signal.request_text)),
        math.log1p(len(request_numbers)),
        math.log1p(max(signal.turns, 0)),
        *(1.0 if kind == name else 0.0 for name in REQUEST_KINDS),
    )


def arithmetic_checks(text: str) -> tuple[int, int]:
    """How many written-out calculations ``text`` holds and how many of them are wrong.

    Only calculations made of numbers and ``+ - * /`` are checked (``x`` and the multiplication and
    division signs read as operators); a result counts as right within 1% (answers round).
    """
    checks = wrong = 0
    pairs = [(m.group(1), m.group(2)) for m in _ANNOTATED.finditer(text)]
    stripped = _ANNOTATED.sub(" ", text)
    pairs += [(m.group(1), m.group(2)) for m in _INLINE.finditer(stripped)]
    for expression, stated in pairs:
        value = _evaluate(expression)
        result = _to_number(stated)
        if value is None or result is None:
            continue
        checks += 1
        if abs(value - result) > 0.01 * max(abs(value), abs(result), 1e-9) + 1e-9:
            wrong += 1
    return checks, wrong


def _numbers(text: str) -> list[str]:
    return [m.group(0).replace(",", "").lstrip("-") for m in _NUMBER.finditer(text)]


def _share_used(request_numbers: list[str], answer_numbers: list[str]) -> float:
    """The share of the request's distinct numbers that the answer mentions (1 when it has none)."""
    wanted = {_canonical(n) for n in request_numbers}
    if not wanted:
        return 1.0
    found = {_canonical(n) for n in answer_numbers}
    return len(wanted & found) / len(wanted)


def _canonical(number: str) -> str:
    value = _to_number(number)
    return number if value is None else f"{value:g}"


def _repetition(text: str) -> float:
    """The share of word trigrams that repeat an earlier one: loops and restated paragraphs score high."""
    words = _WORD.findall(text.lower())
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def _to_number(text: str) -> float | None:
    cleaned = text.strip().replace(",", "").replace("$", "").rstrip("%").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _evaluate(expression: str) -> float | None:
    """The value of an arithmetic expression of numbers and ``+ - * /``, or None (never ``eval``)."""
    cleaned = expression.replace(",", "").replace("$", "").replace("%", "")
    cleaned = cleaned.replace("×", "*").replace("÷", "/").replace("x", "*").replace("X", "*")
    if len(cleaned) > 120:
        return None
    try:
        tree = ast.parse(cleaned.strip(), mode="eval")
    except SyntaxError:
        return None
    return _walk(tree.body)


def _walk(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _walk(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _walk(node.left), _walk(node.right)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        value = _OPS[type(node.op)](left, right)
        return value if math.isfinite(value) and abs(value) < 1e15 else None
    return None
