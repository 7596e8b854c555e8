"""Recording one request as one Decision: its attempts as they happen, then the frozen record.

The router and the streaming router fill a :class:`PendingAttempt` per upstream call; :meth:`Recorder.finish`
turns them into :class:`~tiered.decision.Attempt` objects (outcome from the cascade's verdicts, cost from the
price book), computes the costs and the counterfactual, and hands the decision to the router's observers,
exactly once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from .accounting import counterfactual_cost, tokens_for_chars, total_cost
from .decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from .errors import TieredError
from .fastjson import dumps

if TYPE_CHECKING:
    from .cascade.policy import Call, Step, TriageRead
    from .config import RouteSettings
    from .economics.advisor import Ticket
    from .router import Router

__all__ = [
    "DecisionObserver",
    "Exchange",
    "PendingAttempt",
    "Recorder",
    "RelayedUsage",
    "cancelled_error",
    "new_decision_id",
    "request_hash",
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


class Recorder:
    """Collects the attempts of one request and builds (and emits) its Decision."""

    def __init__(
        self,
        router: Router,
        request: Mapping[str, Any],
        route_name: str,
        route: RouteSettings | None,
        *,
        stream: bool,
        key_id: str | None,
        passthrough: bool = False,
    ) -> None:
        self.router = router
        self.request = request
        self.route_name = route_name
        self.route = route
        self.stream = stream
        self.key_id = key_id
        self.passthrough = passthrough
        self.id = new_decision_id()
        self.created_at = datetime.now(tz=UTC)
        self.started = time.perf_counter()
        self.pending: list[PendingAttempt] = []
        self.done = False
        self.ticket: Ticket | None = None  # economics hook (issue #18), set by the runner

    def add(self, call: Call) -> PendingAttempt:
        pending = PendingAttempt(call)
        self.pending.append(pending)
        return pending

    def triage_attempt(self, tier: int) -> PendingAttempt:
        """The (last) triage attempt made at ``tier``."""
        return next(p for p in reversed(self.pending) if p.call.tier == tier and p.call.role is AttemptRole.TRIAGE)

    def _attempts(self, step: Step | None, answering: PendingAttempt | None) -> list[Attempt]:
        verdicts = iter(step.verdicts if step is not None else ())
        prices = self.router.prices
        out: list[Attempt] = []
        for p in self.pending:
            confidence = p.read.confidence if p.read is not None else None
            reason: EscalationReason | None = None
            if p.cancelled:
                outcome = Outcome.CANCELLED
                if p.call.role is AttemptRole.TRIAGE:  # a hedged triage that lost still has its verdict
                    lost = next(verdicts, None)
                    reason = lost.reason if lost is not None else None
            elif p.skipped:
                outcome, reason = Outcome.SKIPPED, EscalationReason.UPSTREAM_ERROR
                next(verdicts, None)
            elif p.call.role is AttemptRole.TRIAGE:
                verdict = next(verdicts, None)
                if p.error is not None:  # the verdict tells a rejected call from a failed one
                    outcome, reason = Outcome.ERROR, (verdict.reason if verdict else EscalationReason.UPSTREAM_ERROR)
                elif verdict is not None and verdict.ship:
                    outcome = Outcome.SHIPPED
                else:
                    reason = verdict.reason if verdict is not None else None
                    invalid = reason in (EscalationReason.INVALID_OUTPUT, EscalationReason.TRUNCATED)
                    outcome = Outcome.INVALID if invalid else Outcome.ESCALATED
            else:
                outcome = Outcome.ERROR if p.error is not None else Outcome.ANSWERED
            out.append(
                Attempt(
                    tier=p.call.tier,
                    model=p.call.model,
                    role=AttemptRole.PASSTHROUGH if self.passthrough else p.call.role,
                    outcome=outcome,
                    confidence=confidence,
                    reason=reason,
                    usage=p.usage,
                    cost_usd=prices.cost(p.call.model, p.usage, p.reported_usage),
                    latency_ms=p.latency_ms,
                    first_token_ms=p.first_token_ms,
                    stop_reason=p.stop_reason,
                    status=p.status,
                    error=p.error,
                    request_id=p.request_id,
                    rewrites=p.call.rewrites,
                    stream_aborted=p.stream_aborted,
                    reported_usage=p.reported_usage,
                    usage_estimated=p.usage_estimated,
                )
            )
        return out

    def finish(
        self,
        step: Step | None,
        answering: PendingAttempt | None,
        answer_text: str | None,
        error: TieredError | None = None,
        *,
        degraded: bool = False,
    ) -> Decision:
        """Build the decision, hand it to the observers, and return it. Called exactly once."""
        attempts = self._attempts(step, answering)
        answer_attempt = attempts[self.pending.index(answering)] if answering is not None else None
        if self.route is not None:
            final_model = self.route.tiers[-1].model
        else:
            final_model = answering.call.model if answering is not None else ""
        shipped = answer_attempt is not None and (answer_attempt.outcome is Outcome.SHIPPED or degraded)
        decision = Decision(
            id=self.id,
            route=self.route_name,
            created_at=self.created_at,
            attempts=tuple(attempts),
            answered_by=answering.call.model if answering is not None and error is None else None,
            answer_tier=answering.call.tier if answering is not None and error is None else None,
            escalated=any(a.role is AttemptRole.TRIAGE for a in attempts) and not (shipped and not degraded),
            reason=step.reason if step is not None else None,
            reason_detail=step.detail if step is not None else None,
            confidence=answer_attempt.confidence if shipped and answer_attempt is not None else None,
            threshold=answering.call.threshold if shipped and answering is not None else None,
            cost_usd=total_cost(attempts),
            counterfactual_cost_usd=(
                counterfactual_cost(
                    answer_attempt,
                    final_model,
                    self.router.prices,
                    final_warm=self.ticket.final_warm if self.ticket is not None else 0,  # economics hook
                )
                if error is None
                else None
            ),
            latency_ms=(time.perf_counter() - self.started) * 1000,
            stream=self.stream,
            passthrough=self.passthrough,
            degraded=degraded,
            error=error.message if error is not None else None,
            error_status=error.status if error is not None else None,
            key_id=self.key_id,
            replica=self.router.replica,
            request_hash=request_hash(self.request),
            request_chars=_request_chars(self.request),
            answer_chars=len(answer_text) if answer_text else 0,
        )
        if error is not None:
            error.decision_id = decision.id
        if not self.done:
            self.done = True
            if self.ticket is not None:
                self.ticket.settle(decision)  # economics hook (issue #18)
            self.router.emit(decision, Exchange(self.request, answer_text))
        return decision


def request_hash(request: Mapping[str, Any]) -> str | None:
    """A fingerprint of what was asked (system, messages, tools, output format; not the model or sampling
    parameters), so identical requests can be found without storing their text. BLAKE2b, 128 bits."""
    picked = {k: request.get(k) for k in ("system", "messages", "tools", "output_config")}
    try:
        raw = dumps(picked, default=str)
    except (ValueError, TypeError, RecursionError):
        return None
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _request_chars(request: Mapping[str, Any]) -> int:
    """Characters of text in the request (system and messages); odd shapes count as nothing, never fail."""
    total = 0
    system = request.get("system")
    if isinstance(system, str):
        total += len(system)
    elif isinstance(system, list):
        total += sum(len(b["text"]) for b in system if isinstance(b, dict) and isinstance(b.get("text"), str))
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                total += len(content)
            elif isinstance(content, list):
                total += sum(len(b["text"]) for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return total
