"""Reading an answer (or a reference) the way the graders of :mod:`tiered.offline.eval_graders` compare it:
the normalised text, the number it gives, the option letter it picks (the rules are in that module's
docstring). Pure functions, no I/O; the dataset checks its references with them too."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final

__all__ = ["extract_choice", "extract_number", "normalize", "parse_number"]

_STRIP: Final = " \t\r\n\"'`*“”‘’"
_NUMBER: Final = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
_FRACTION: Final = re.compile(rf"({_NUMBER})\s*/\s*({_NUMBER})")
_ANY_NUMBER: Final = re.compile(rf"(?<![\w.]){_NUMBER}(?:\s*/\s*{_NUMBER})?%?")
_ANSWER_IS: Final = re.compile(r"answer\s*(?:is\s*:?|:|=)\s*\**\s*\$?\s*", re.IGNORECASE)
_BOXED: Final = re.compile(r"\\boxed\{([^{}]*)\}")
_CHOICE_MENTION: Final = re.compile(
    r"\b(?:answer|option|choice)\b\s*(?:is|:|=)?\s*[:\-]?\s*\**\s*\(?\s*([A-Ja-j])\s*\)?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_ONE_LETTER: Final = re.compile(r"^\W*([A-J])\W*$")
_LEADING: Final = re.compile(r"^\W*\(?([A-J])[).:](?:\s|$)")
_PARENTHESISED: Final = re.compile(r"\(([A-J])\)")
_LETTERS: Final = "ABCDEFGHIJ"


def normalize(text: str) -> str:
    """The form ``exact`` compares: NFKC, case folded, whitespace collapsed, wrapping and final period gone."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    stripped = folded.strip(_STRIP)
    if stripped.endswith(".") and not stripped.endswith(".."):
        stripped = stripped[:-1].rstrip(_STRIP)
    return stripped


def parse_number(value: str | float) -> float | None:
    """A reference or a candidate that is a number (``1,234``, ``50%``, ``3/4`` included), else ``None``."""
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    text = value.strip().rstrip(".").strip()
    if text.startswith("$"):
        text = text[1:]
    match = _ANY_NUMBER.fullmatch(text)
    return _number_value(match.group(0)) if match else None


def extract_number(answer: str) -> float | None:
    """The number an answer gives (see the module docstring)."""
    for found in _ANSWER_IS.finditer(answer):
        match = _ANY_NUMBER.match(answer, found.end())
        if match:
            return _number_value(match.group(0))
    boxed = _BOXED.findall(answer)
    if boxed:
        value = parse_number(boxed[-1])
        if value is not None:
            return value
    numbers = _ANY_NUMBER.findall(answer)
    return _number_value(numbers[-1]) if numbers else None


def _number_value(text: str) -> float | None:
    text = text.replace("−", "-").rstrip("%").strip()
    fraction = _FRACTION.fullmatch(text)
    if fraction:
        top, bottom = float(fraction.group(1).replace(",", "")), float(fraction.group(2).replace(",", ""))
        return top / bottom if bottom != 0 else None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def extract_choice(answer: str, choices: tuple[str, ...] = ()) -> str | None:
    """The option letter an answer picks (see the module docstring), or ``None``."""
    mentions = _CHOICE_MENTION.findall(answer)
    if mentions:
        return str(mentions[-1]).upper()
    text = answer.strip()
    for pattern in (_ONE_LETTER, _LEADING):
        match = pattern.match(text)
        if match:
            return match.group(1)
    marked = {str(letter) for letter in _PARENTHESISED.findall(text)}
    if len(marked) == 1:
        return marked.pop()
    if choices:
        said = normalize(answer)
        options = [normalize(choice) for choice in choices[: len(_LETTERS)]]
        hits = [i for i, option in enumerate(options) if option and option in said]
        if len(hits) == 1:
            return _LETTERS[hits[0]]
    return None
