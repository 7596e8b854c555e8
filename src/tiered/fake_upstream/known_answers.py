"""Real answers to a few everyday questions, for the fake's default replies where people read them.

The fake otherwise answers with deterministic filler words, which is right for tests but reads as word salad in
the README's offline try-out and ``tiered ask``. A question below (matched without case, punctuation or the
fake's ``[[fake ...]]`` directives) gets its real answer instead, unless a directive scripts the answer or its
length. Everything else keeps the filler, so the replies that tests rely on do not change.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["known_answer"]

_PAIRS: Final = {
    "What is the capital of France?": "The capital of France is Paris.",
    "What is 17 * 23?": "17 × 23 = 391.",
    "What is 2+2?": "2 + 2 = 4.",
    "Hi": "Hello! How can I help you today?",
    "Hello": "Hello! How can I help you today?",
    "Summarise the plot of Hamlet in two sentences.": (
        "Prince Hamlet learns from his father's ghost that his uncle Claudius murdered the king to take the "
        "throne and marry Hamlet's mother. His hesitant pursuit of revenge ends in a duel in which Hamlet, "
        "Claudius, Queen Gertrude and Laertes all die."
    ),
    "What is the largest planet in the solar system?": "Jupiter is the largest planet in the solar system.",
    "Who wrote Pride and Prejudice?": "Jane Austen wrote Pride and Prejudice, published in 1813.",
    "How many continents are there?": (
        "By the most common convention there are seven: Africa, Antarctica, Asia, Australia (Oceania), Europe, "
        "North America and South America."
    ),
    "What is the boiling point of water at sea level?": (
        "Water boils at 100 °C (212 °F) at sea level, under standard atmospheric pressure."
    ),
    "What is the speed of light?": "The speed of light in a vacuum is 299,792,458 metres per second.",
    "What is the chemical symbol for gold?": "The chemical symbol for gold is Au.",
    "Who painted the Mona Lisa?": "Leonardo da Vinci painted the Mona Lisa, in the early 16th century.",
    "Translate 'thank you' into French.": "« Merci » (or « merci beaucoup » for “thank you very much”).",
}

_DIRECTIVE: Final = re.compile(r"\[\[fake\b[^\]]*\]\]", re.IGNORECASE)
_NOT_WORD: Final = re.compile(r"[^\w*+]+")


def _key(text: str) -> str:
    return _NOT_WORD.sub(" ", _DIRECTIVE.sub(" ", text).lower()).strip()


_BY_KEY: Final = {_key(question): answer for question, answer in _PAIRS.items()}


def known_answer(text: str) -> str | None:
    """The real answer to ``text`` when it is one of the known questions, else ``None``."""
    return _BY_KEY.get(_key(text))
