"""Deterministic filler text and the fake tokenizer.

Every generated word is at most eight characters, so with :func:`tokenize` one word is exactly one token and a
scripted answer of N tokens has N words. Some answers carry double quotes, a backslash, a newline and
non-ASCII words, so that clients' JSON escaping and unicode handling get exercised.
"""

from __future__ import annotations

import random
import re
from typing import Final

__all__ = ["tokenize", "words"]

_WORD_LIST: Final = """
the a of to and in is it that for on with as was at by be this are from or an which one all were
there when can more if has two each how their will up other about out many then them these so some
her would make like him into time look write go see number way could people than first water been
call who oil its now find long down day did get come made may part over new sound take only little
work know place year live me back give most very after thing our just name good router tier triage
answer cheap model route ship signal budget cache token stream window layer
"""
_WORDS: Final = tuple(_WORD_LIST.split())
_UNICODE: Final = ("café", "naïve", "Zürich", "東京", "€12", "🚀", "Ωmega", "résumé", "jalapeño", "日本語")
_SPECIAL: Final = ("C:\\tmp", "a\\b", "50%", "<tag>", "{x}", "x&y")

_TOKEN: Final = re.compile(r"\s*\S{1,8}|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into the fake's tokens (whitespace rides with the next word); ``"".join`` restores it."""
    return _TOKEN.findall(text)


def words(rng: random.Random, count: int, *, sentence: bool = True) -> str:
    """``count`` words drawn from ``rng``. A sentence is capitalised, ends with a period and sometimes holds
    quotes, a backslash, a newline or non-ASCII words."""
    if count <= 0:
        return ""
    picked = [rng.choice(_WORDS) for _ in range(count)]
    if sentence and count >= 4:
        # Never the last word: with the final period it could outgrow one token.
        if rng.random() < 0.35:
            i = rng.randrange(count - 1)
            picked[i] = f'"{picked[i]}"'
        if rng.random() < 0.35:
            picked[rng.randrange(count - 1)] = rng.choice(_UNICODE)
        if rng.random() < 0.15:
            picked[rng.randrange(count - 1)] = rng.choice(_SPECIAL)
        if rng.random() < 0.3:
            i = rng.randrange(1, count)
            picked[i] = "\n" + picked[i]
    text = " ".join(picked)
    if sentence:
        text = text[:1].upper() + text[1:] + "."
    return text
