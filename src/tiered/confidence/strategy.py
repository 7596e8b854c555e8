"""Confidence strategies: how a triage's reply becomes the score the ship rule compares with the threshold.

The triage contract stays ``{confidence, answer}``; a strategy decides what the policy does with it. The pure
policy (:func:`tiered.cascade.policy.judge`) reads one interface: a :class:`ConfidenceStrategy` bound to its
request (:class:`Scorer`) turns a triage read into a score on [0, 1].

- :class:`SelfReport`: the stated confidence, through the tier's recalibration map if it has one (today's
  rule);
- :class:`Learned`: P(right) from a logistic model over features that cost no extra call
  (:mod:`tiered.confidence.features`), scored in pure Python from a model file written by ``tiered confidence
  train`` (:mod:`tiered.confidence.model_file`). Its score depends on the answer text, so a streamed triage
  is judged once its answer is complete (:attr:`ConfidenceStrategy.needs_answer`).

``consistency`` and ``verify`` need more than one triage call per request; they are measured offline
(``tiered eval --strategy``) and not yet wired into the proxy.

Everything here is pure: no I/O, no clock, no randomness; the request is read once per request and tier
(:func:`request_facts`) only when a strategy needs it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from .features import SignalInput, features
from .linear import LinearConfidence

__all__ = [
    "STRATEGY_NAMES",
    "ConfidenceStrategy",
    "Learned",
    "ReadLike",
    "RequestFacts",
    "Scorer",
    "SelfReport",
    "StrategyName",
    "bind",
    "facts_of_stored",
    "request_facts",
    "request_kind",
]

StrategyName = Literal["self_report", "learned"]
STRATEGY_NAMES: Final[tuple[StrategyName, ...]] = ("self_report", "learned")


class ReadLike(Protocol):
    """What a strategy reads from a triage reply (:class:`tiered.cascade.policy.TriageRead` is one)."""

    @property
    def confidence(self) -> float | None: ...

    @property
    def answer(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a request tells a strategy without a call: the last user turn, the user turns so far, its kind
    (one of :data:`tiered.confidence.features.REQUEST_KINDS`)."""

    text: str = ""
    turns: int = 1
    kind: str = "chat"


class ConfidenceStrategy(ABC):
    """A way to turn a triage read (and its request) into the score compared with the threshold (abstract:
    :class:`SelfReport` and :class:`Learned` are the strategies)."""

    name: str = "self_report"
    needs_answer: bool = False
    """The score depends on the answer text: a streamed triage is judged once the answer is complete."""
    needs_request: bool = False
    """The score depends on the request: :func:`bind` reads it (once per request and tier)."""

    @abstractmethod
    def score(self, read: ReadLike, facts: RequestFacts) -> float:
        """The score of ``read`` for a request with ``facts``."""


@dataclass(frozen=True, slots=True)
class SelfReport(ConfidenceStrategy):
    """The stated confidence, recalibrated by ``calibrate`` (a tier's map from ``tiered backtest``) if given."""

    calibrate: Callable[[float], float] | None = None
    name: str = "self_report"

    def score(self, read: ReadLike, facts: RequestFacts) -> float:
        stated = read.confidence if read.confidence is not None else 0.0
        return self.calibrate(stated) if self.calibrate is not None else stated


@dataclass(frozen=True, slots=True)
class Learned(ConfidenceStrategy):
    """P(right) from a fitted logistic ``model`` over :func:`tiered.confidence.features.features`."""

    model: LinearConfidence
    version: int | None = None
    name: str = "learned"
    needs_answer: bool = True
    needs_request: bool = True

    def score(self, read: ReadLike, facts: RequestFacts) -> float:
        signal = SignalInput(
            answer=read.answer or "",
            stated_confidence=read.confidence,
            request_text=facts.text,
            turns=facts.turns,
            kind=facts.kind,
        )
        return self.model(features(signal))


@dataclass(frozen=True, slots=True)
class Scorer:
    """A strategy bound to one request: what the policy calls to score a triage read."""

    strategy: ConfidenceStrategy
    facts: RequestFacts

    @property
    def needs_answer(self) -> bool:
        return self.strategy.needs_answer

    def score(self, read: ReadLike) -> float:
        return self.strategy.score(read, self.facts)


def bind(
    value: Callable[[float], float] | Scorer | ConfidenceStrategy | None, request: Mapping[str, Any]
) -> Callable[[float], float] | Scorer | None:
    """What the policy judges a tier's triage with: a strategy bound to ``request``, or a plain recalibration
    map, a bound strategy (or nothing) passed through unchanged."""
    if not isinstance(value, ConfidenceStrategy):
        return value
    return Scorer(value, request_facts(request) if value.needs_request else RequestFacts())


def request_facts(request: Mapping[str, Any]) -> RequestFacts:
    """The facts of a live Messages request, read exactly as they are read back from a stored one (so a model
    trained on the decision log sees the same numbers live)."""
    from tiered.quality.transcript import parse_request_text, request_text

    return facts_of_stored(parse_request_text(request_text(request)))


def facts_of_stored(stored: Any) -> RequestFacts:
    """The facts of a :class:`tiered.quality.transcript.StoredRequest`."""
    users = [m.text for m in stored.messages if m.role == "user"]
    text = users[-1] if users else ""
    return RequestFacts(text=text, turns=max(len(users), 1), kind=request_kind(text, bool(stored.tools)))


_CODE_MARKERS: Final = ("```", "def ", "function ", "class ", "import ", "#include", "public static", "=> {")
_DIGIT: Final = re.compile(r"\d")
_MATH_MARKERS: Final = ("how many", "how much", "calculate", "compute", "solve", "what is the sum", "equation")


def request_kind(text: str, has_tools: bool) -> str:
    """``tools`` when tools are offered, else ``code`` or ``math`` by plain markers in the text, else ``chat``."""
    if has_tools:
        return "tools"
    lower = text.lower()
    if any(marker in lower for marker in _CODE_MARKERS):
        return "code"
    if any(marker in lower for marker in _MATH_MARKERS) and _DIGIT.search(lower) is not None:
        return "math"
    return "chat"
