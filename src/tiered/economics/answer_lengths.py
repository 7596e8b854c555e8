"""How long a route's answers are: the expected-cost rule's output estimate, learned from settled decisions.

Before any answer is seen the rule assumes :data:`~.expected_cost.EXPECTED_OUTPUT_TOKENS` (300) output tokens,
which overprices short answers ("What is 17 * 23?" is answered in a dozen tokens) and so the triage's extra
input looks cheap next to them. Each settled decision adds the answer's output tokens (a shipped triage's less
its JSON wrapper) to its route's prompt-size bucket (:func:`.ship_rates.size_bucket`); the estimate is the
bucket's mean with :data:`PRIOR_WEIGHT` pseudo-answers of the prior: one answer's weight, so a single short
answer does not stop the triages of a route (it halves the estimate at most), and a route of 12-token answers
is priced as such after about a hundred of them (their triage pays only below about 15 expected tokens, see
``tests/economics/test_answer_lengths.py``). Counts
halve every :data:`HALF_LIFE` answers, so the estimate follows a drifting workload. The mean, not a quantile:
the cost is linear in the output, so the mean is what makes the expectation right. Pure, thread-safe, no I/O.
"""

from __future__ import annotations

import threading
from typing import Final

from .expected_cost import EXPECTED_OUTPUT_TOKENS

__all__ = ["HALF_LIFE", "PRIOR_WEIGHT", "AnswerLengths"]

PRIOR_WEIGHT: Final = 1.0
HALF_LIFE: Final = 2_000


class AnswerLengths:
    """Mean answer length (output tokens) per (route, prompt-size bucket)."""

    def __init__(self, prior: int = EXPECTED_OUTPUT_TOKENS) -> None:
        self.prior = prior
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, str], list[float]] = {}  # [tokens, answers]

    def observe(self, route: str, size: str, tokens: int) -> None:
        """One answer of ``tokens`` output tokens on ``route`` for a prompt of size bucket ``size``."""
        with self._lock:
            counts = self._sums.setdefault((route, size), [0.0, 0.0])
            if counts[1] >= HALF_LIFE:
                counts[0], counts[1] = counts[0] / 2, counts[1] / 2
            counts[0] += max(tokens, 0)
            counts[1] += 1

    def typical(self, route: str, size: str) -> int:
        """The expected output tokens of the next answer (at least 1)."""
        counts = self._sums.get((route, size))
        if counts is None:
            return self.prior
        total, answers = counts
        return max(1, round((total + PRIOR_WEIGHT * self.prior) / (answers + PRIOR_WEIGHT)))
