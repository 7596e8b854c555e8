"""What the runner records of one request while it runs: an id, and one :class:`PendingAttempt` per upstream
call, filled by the runner's parts and turned into a frozen :class:`~tiered.decision.Attempt` when the
request ends (see :mod:`tiered.runner.recording`)."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..accounting import tokens_for_chars
from ..decision import Decision, TokenUsage
from ..errors import TieredError

if TYPE_CHECKING:
    from ..cascade.policy import Call, TriageRead, Verdict

__all__ = [
    "DecisionObserver",
    "Exchange",
    "PendingAttempt",
    "RelayedUsage",
    "cancelled_error",
    "new_decision_id",
]


def cancelled_error() -> TieredError:
    """What a decision records when its request was abandoned before an answer (the client went away)."""
    error = TieredError("the request was cancelled before it was answered (the client went away)")
    error.status = 499
    return error


class _RandomHex:
    """Random hex digits from the operating system's generator, drawn 4 KiB at a time: one system call per
    256 decision ids instead of one per id."""

    __slots__ = ("_at", "_digits")

    _BLOCK: Final = 4096

    def __init__(self) -> None:
        self._digits = ""
        self._at = 0

    def take(self, count: int) -> str:
        at = self._at
        if at + count > len(self._digits):
            self._digits, at = secrets.token_hex(self._BLOCK), 0
        self._at = at + count
        return self._digits[at : at + count]


_RANDOM_HEX: Final = _RandomHex()


def new_decision_id() -> str:
    """Time-ordered, unique: milliseconds since the epoch, then 64 random bits."""
    return f"dec_{time.time_ns() // 1_000_000:012x}{_RANDOM_HEX.take(16)}"


@dataclass(frozen=True, slots=True)
class Exchange:
    """The request and the answer text behind a decision, for observers that may keep content (audit)."""

    request: Mapping[str, Any]
    answer_text: str | None


class DecisionObserver(Protocol):
    def __call__(self, decision: Decision, exchange: Exchange) -> None: ...


_NO_USAGE: Final = TokenUsage()


@dataclass(slots=True)
class PendingAttempt:
    """An attempt being recorded; its outcome may depend on the cascade's verdict, known later."""

    call: Call
    usage: TokenUsage = _NO_USAGE  # immutable: shared
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    stop_reason: str | None = None
    status: int | None = None
    error: str | None = None
    request_id: str | None = None
    read: TriageRead | None = None
    verdict: Verdict | None = None  # a triage's judgement, once the cascade made it
    stream_aborted: bool = False
    cancelled: bool = False
    skipped: bool = False
    body: dict[str, Any] = field(default_factory=dict)
    reported_usage: dict[str, Any] | None = None
    usage_estimated: bool = False

    def note_usage(self, reported: Any, *, complete: bool = True, output_at_least: int = 0) -> None:
        """Record the upstream's ``usage`` object (a copy, as it came) and the counts it is priced by.

        ``complete=False``: the call ended before its final usage (a stream cut short), so the counts are an
        estimate: the output is at least ``output_at_least`` (what tiered saw of it), and the attempt says so."""
        self.reported_usage = dict(reported) if isinstance(reported, dict) and reported else None
        usage = TokenUsage.from_anthropic(reported)
        self.usage_estimated = not complete
        if not complete and output_at_least > usage.output_tokens:
            usage = dataclasses.replace(usage, output_tokens=output_at_least)
        self.usage = usage


@dataclass(slots=True)
class RelayedUsage:
    """What a relayed stream reported (its usage so far) and relayed (characters of content deltas: text, tool
    input, thinking), for its attempt's usage."""

    reported: dict[str, Any] = field(default_factory=dict)
    final: bool = False  # its message_delta, with the final usage, was relayed
    chars: int = 0

    def record(self, pending: PendingAttempt) -> None:
        """The relayed call's usage: the final count once its ``message_delta`` was relayed. A stream that ended
        before it (client gone, upstream failure) reported only ``message_start``'s usage (one output token):
        its output is then the larger of that and the tokens of the content relayed, marked as an estimate."""
        pending.note_usage(self.reported, complete=self.final, output_at_least=tokens_for_chars(self.chars))
