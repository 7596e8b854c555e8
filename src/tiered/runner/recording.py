"""Recording one request as one Decision: its attempts as they happen, then the frozen record.

The runner fills a :class:`~tiered.runner.attempts.PendingAttempt` per upstream call; :meth:`Recorder.finish`
turns them into :class:`~tiered.decision.Attempt` objects (each with its own verdict, cost from the price
book), computes the costs and the counterfactual, and writes the decision to the sink it was given, exactly
once. It knows nothing of the router: what it needs comes in a :class:`~tiered.runner.deps.Deps`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..accounting import cache_penalty, counterfactual_cost, total_cost
from ..cascade.slices import slice_key
from ..decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome
from ..economics.fingerprint import conversation_depth
from ..fastjson import dumps
from .attempts import Exchange, PendingAttempt, new_decision_id

if TYPE_CHECKING:
    from ..cascade.policy import Call, Step, Verdict
    from ..config import RouteSettings
    from ..economics.advisor import Ticket
    from ..errors import TieredError
    from .deps import Deps

__all__ = ["Recorder", "request_hash"]


class Recorder:
    """Collects the attempts of one request and builds (and emits) its Decision."""

    def __init__(
        self,
        deps: Deps,
        request: Mapping[str, Any],
        route_name: str,
        route: RouteSettings | None,
        *,
        stream: bool,
        key_id: str | None,
        passthrough: bool = False,
        headers: Mapping[str, str] | None = None,  # the request's (its slice may come from one)
    ) -> None:
        self.deps = deps
        self.headers = headers
        self.request = request
        self.route_name = route_name
        self.route = route
        self.stream = stream
        self.key_id = key_id
        self.passthrough = passthrough
        self.id = new_decision_id()
        self.created_at = datetime.now(tz=UTC)
        self.started = deps.clock()
        self.pending: list[PendingAttempt] = []
        self.done = False
        self.ticket: Ticket | None = None  # the economics' advice for this request, settled by its decision

    def add(self, call: Call) -> PendingAttempt:
        pending = PendingAttempt(call)
        self.pending.append(pending)
        return pending

    def triage_attempt(self, tier: int) -> PendingAttempt:
        """The (last) triage attempt made at ``tier``."""
        return next(p for p in reversed(self.pending) if p.call.tier == tier and p.call.role is AttemptRole.TRIAGE)

    def _attach(self, step: Step | None) -> None:
        """Give each triage attempt its verdict: the one the cascade made of the triage at its tier (a
        cascade triages a tier at most once)."""
        if step is None or not step.verdicts:
            return
        for verdict in step.verdicts:
            for p in self.pending:
                if p.call.tier == verdict.tier and p.call.role is AttemptRole.TRIAGE:
                    p.verdict = verdict

    def _attempts(self) -> list[Attempt]:
        prices = self.deps.prices
        role = AttemptRole.PASSTHROUGH if self.passthrough else None
        out: list[Attempt] = []
        for p in self.pending:
            verdict = p.verdict
            outcome, reason = _outcome(p, verdict)
            confidence = p.read.confidence if p.read is not None else None
            out.append(
                Attempt(
                    tier=p.call.tier,
                    model=p.call.model,
                    role=role or p.call.role,
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
                    score=verdict.score if verdict is not None else None,
                    threshold=verdict.threshold if verdict is not None else p.call.threshold,
                )
            )
        return out

    def _final_warm(self) -> int:
        """Tokens the final tier would have had cached had it answered every turn (the economics' estimate):
        the counterfactual prices them as cache reads."""
        return self.ticket.final_warm if self.ticket is not None else 0

    def _costs(
        self, answer: Attempt | None, final_model: str, error: TieredError | None
    ) -> tuple[float | None, float | None]:
        """The counterfactual cost and the cache penalty the cascade caused (both ``None`` for a failed request;
        the penalty also without the economics, which alone know the final tier's cache)."""
        if error is not None:
            return None, None
        prices, warm = self.deps.prices, self._final_warm()
        counterfactual = counterfactual_cost(answer, final_model, prices, final_warm=warm)
        penalty = cache_penalty(answer, final_model, prices, final_warm=warm) if self.ticket is not None else None
        return counterfactual, penalty

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
        self._attach(step)
        attempts = self._attempts()
        answer_attempt = attempts[self.pending.index(answering)] if answering is not None else None
        if self.route is not None:
            final_model = self.route.tiers[-1].model
        else:
            final_model = answering.call.model if answering is not None else ""
        shipped = answer_attempt is not None and (answer_attempt.outcome is Outcome.SHIPPED or degraded)
        judged = answer_attempt if shipped else _deciding_triage(attempts) if step and step.verdicts else None
        counterfactual, penalty = self._costs(answer_attempt, final_model, error)
        decision = Decision(
            id=self.id,
            route=self.route_name,
            created_at=self.created_at,
            attempts=tuple(attempts),
            answered_by=answering.call.model if answering is not None and error is None else None,
            answer_tier=answering.call.tier if answering is not None and error is None else None,
            escalated=not (shipped and not degraded) and any(a.role is AttemptRole.TRIAGE for a in attempts),
            reason=step.reason if step is not None else None,
            reason_detail=step.detail if step is not None else None,
            confidence=judged.confidence if judged is not None else None,
            threshold=judged.threshold if judged is not None else None,
            score=judged.score if judged is not None else None,
            cost_usd=total_cost(attempts),
            counterfactual_cost_usd=counterfactual,
            cache_penalty_usd=penalty,
            depth=conversation_depth(self.request),
            latency_ms=(self.deps.clock() - self.started) * 1000,
            stream=self.stream,
            passthrough=self.passthrough,
            degraded=degraded,
            error=error.message if error is not None else None,
            error_status=error.status if error is not None else None,
            key_id=self.key_id,
            replica=self.deps.replica,
            request_hash=request_hash(self.request),
            request_chars=_request_chars(self.request),
            answer_chars=len(answer_text) if answer_text else 0,
            mode=self.route.mode if self.route is not None else "live",
            slice=slice_key(self.route, self.request, self.headers) if self.route is not None else None,
        )
        if error is not None:
            error.decision_id = decision.id
        if not self.done:
            self.done = True
            if self.ticket is not None:
                self.ticket.settle(decision)
            self.deps.sink(decision, Exchange(self.request, answer_text))
        return decision


def _outcome(p: PendingAttempt, verdict: Verdict | None) -> tuple[Outcome, EscalationReason | None]:
    """How an attempt ended, and why its triage (if it was one) did not ship."""
    triage = p.call.role is AttemptRole.TRIAGE
    if p.cancelled:  # a hedged triage that lost still has its verdict
        return Outcome.CANCELLED, verdict.reason if triage and verdict is not None else None
    if p.skipped:
        return Outcome.SKIPPED, EscalationReason.UPSTREAM_ERROR
    if not triage:
        return (Outcome.ERROR if p.error is not None else Outcome.ANSWERED), None
    if p.error is not None:  # the verdict tells a rejected call from a failed one
        return Outcome.ERROR, verdict.reason if verdict is not None else EscalationReason.UPSTREAM_ERROR
    if verdict is not None and verdict.ship:
        return Outcome.SHIPPED, None
    reason = verdict.reason if verdict is not None else None
    invalid = reason in (EscalationReason.INVALID_OUTPUT, EscalationReason.TRUNCATED)
    return (Outcome.INVALID if invalid else Outcome.ESCALATED), reason


def _deciding_triage(attempts: list[Attempt]) -> Attempt | None:
    """For a request that did not ship: the last triage judged with a confidence, else the last one judged."""
    judged = [a for a in attempts if a.role is AttemptRole.TRIAGE and a.threshold is not None]
    with_confidence = [a for a in judged if a.confidence is not None]
    picked = with_confidence or judged
    return picked[-1] if picked else None


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
