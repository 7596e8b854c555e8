"""How one dataset item is evaluated: the calls it needs, and the outcome row built from their replies.

A backtest needs, for every item, each tier's confidence, correctness and cost, including the tiers the
cascade did not reach (to know what a lower or higher threshold would have done). So an evaluation calls
**every tier once**: each non-final tier with the triage request the cascade sends it, and the final tier with
the caller's request as the cascade replays it. The bodies come from the routing policy itself
(:func:`tiered.cascade.policy.cascade`, walked as if no tier shipped), so they are byte for byte what production
sends. What the cascade did at the route's own thresholds is then replayed from those replies by the same
pure policy (:func:`cascade_tier`), calibration maps included.

This costs more than routing: every item pays for every tier (cheap + final for a two-tier route), where the
cascade pays for the final tier only on escalated items. Judge grading adds one call per distinct answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tiered.cascade.policy import Calibrator, Reply, TriageRead, cascade, classify, read_triage_response
from tiered.cascade.stop_sequences import ending, stop_sequences_of
from tiered.config import RouteSettings, TierSettings
from tiered.decision import AttemptRole, TokenUsage
from tiered.errors import ConfigError
from tiered.offline.eval_dataset import EvalDatasetError, EvalItem
from tiered.offline.eval_graders import grade_locally, judge_request, read_verdict
from tiered.offline.eval_prices import EvalPricer
from tiered.router import message_text

__all__ = [
    "CallReply",
    "EvalOutcome",
    "ItemFailure",
    "PlannedCall",
    "TierAnswer",
    "build_outcome",
    "call_key",
    "cascade_tier",
    "judge_calls",
    "plan_item",
    "read_tiers",
]

CallKind = Literal["triage", "final", "judge"]


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One upstream call of an evaluation. ``key`` names it in the cache and as a batch ``custom_id``."""

    key: str
    kind: CallKind
    tier: int | None  # None for a judge call
    model: str  # as configured (``<provider>:<model>`` kept), for pricing
    provider: str
    body: dict[str, Any]
    structured_answer: bool = False
    # the caller's stop sequences: a triage call goes without them (they would cut its JSON), and its answer is
    # cut at the first one when read, as a shipped answer is (tiered.cascade.stop_sequences)
    stop_sequences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallReply:
    """A successful Messages response; ``batch``: it came through the Message Batches API."""

    body: dict[str, Any]
    batch: bool = False


@dataclass(frozen=True, slots=True)
class TierAnswer:
    """What one tier said about an item. ``confidence`` is ``None`` when the tier can never ship it (no
    answer, invalid or refused output), as in the router; ``answer`` is the text to grade, if any."""

    tier: int
    model: str
    read: TriageRead | None
    confidence: float | None
    answer: str | None
    cost_usd: float  # at standard rates: what the cascade pays for this call in production
    paid_usd: float  # what this evaluation paid (batch rates for a batched call)
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class EvalOutcome:
    """The backtest row of one item (see ``docs/backtest.md``), and what the route did at its own threshold."""

    id: str
    group: str | None
    confidence: tuple[float | None, ...]
    correct: tuple[bool, ...]
    cost_usd: tuple[float, ...]
    plain_cost_usd: float
    cascade_tier: int
    paid_usd: float
    grading_usd: float


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """An item without a complete row (a call failed or a judge verdict is unreadable): rerun to retry it."""

    id: str
    message: str


def call_key(provider: str, body: Mapping[str, Any]) -> str:
    """A stable name for a request: the same provider and body always get the same key (1 to 64 of
    ``[a-zA-Z0-9_-]``, as a batch ``custom_id`` must be)."""
    canonical = json.dumps([provider, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "c" + hashlib.sha256(canonical.encode()).hexdigest()[:47]


def plan_item(item: EvalItem, route: RouteSettings, *, max_tokens: int) -> tuple[PlannedCall, ...]:
    """Every tier's call for ``item``, cheapest tier first (the cascade's order)."""
    request = item.request(max_tokens)
    if len(route.tiers) < 2:
        raise EvalDatasetError("the route has one tier; an evaluation of the cascade needs at least two")
    if classify(request) != "plain":
        raise EvalDatasetError(f"item {item.id!r} is never triaged by this route; remove it from the dataset")
    plan = cascade(request, route)
    call = next(plan)
    stops = stop_sequences_of(request)
    calls: list[PlannedCall] = []
    while True:
        spec = route.tiers[call.tier]
        kind: CallKind = "triage" if call.role is AttemptRole.TRIAGE else "final"
        calls.append(
            PlannedCall(
                key=call_key(spec.provider, call.body),
                kind=kind,
                tier=call.tier,
                model=call.model,
                provider=spec.provider,
                body=call.body,
                structured_answer=call.structured_answer,
                stop_sequences=stops,
            )
        )
        try:
            # An unreadable reply never ships, so the walk visits every tier.
            call = plan.send(Reply(triage=TriageRead()))
        except StopIteration:
            return tuple(calls)


def read_tiers(
    calls: Sequence[PlannedCall], replies: Mapping[str, CallReply], pricer: EvalPricer
) -> tuple[TierAnswer, ...]:
    """Read each tier's reply (every call of ``calls`` must have one in ``replies``)."""
    answers: list[TierAnswer] = []
    for call in calls:
        reply = replies[call.key]
        usage = TokenUsage.from_anthropic(reply.body.get("usage"))
        cost = _price(pricer, call.model, usage, batch=False)
        paid = _price(pricer, call.model, usage, batch=reply.batch)
        assert call.tier is not None
        if call.kind == "triage":
            read = read_triage_response(reply.body, structured_answer=call.structured_answer)
            usable = (
                read.problem is None
                and read.answer_kind not in (None, "null")
                and read.answer is not None
                and bool(read.answer.strip())
            )
            # graded as it would ship: cut at the caller's first stop sequence
            answer = ending(read.answer, call.stop_sequences).text if usable and read.answer is not None else None
            confidence = read.confidence if usable else None
            answers.append(TierAnswer(call.tier, call.model, read, confidence, answer, cost, paid, usage))
        else:
            text = message_text(reply.body)
            answers.append(
                TierAnswer(call.tier, call.model, None, None, text if text.strip() else None, cost, paid, usage)
            )
    return tuple(answers)


def _price(pricer: EvalPricer, model: str, usage: TokenUsage, *, batch: bool) -> float:
    cost = pricer.cost(model, usage, batch=batch)
    if cost is None:
        raise ConfigError(f"genai-prices has no price for {model!r}; tiered eval needs one for every tier")
    return cost


def judge_calls(item: EvalItem, answers: Sequence[TierAnswer], judge: TierSettings) -> dict[str, PlannedCall]:
    """The judge calls ``item`` needs, by answer text: one per distinct answer (none for local graders)."""
    if item.grader != "judge":
        return {}
    calls: dict[str, PlannedCall] = {}
    for answer in answers:
        if answer.answer is None or answer.answer in calls:
            continue
        body = judge_request(item, answer.answer, judge.model_id)
        calls[answer.answer] = PlannedCall(
            call_key(judge.provider, body), "judge", None, judge.model, judge.provider, body
        )
    return calls


def cascade_tier(
    item: EvalItem,
    route: RouteSettings,
    answers: Sequence[TierAnswer],
    *,
    max_tokens: int,
    calibrators: Mapping[int, Calibrator] | None = None,
) -> int:
    """The tier that answers ``item`` at the route's own thresholds, replayed through the routing policy."""
    plan = cascade(item.request(max_tokens), route, calibrators)
    by_tier = {a.tier: a for a in answers}
    call = next(plan)
    while True:
        read = by_tier[call.tier].read if call.role is AttemptRole.TRIAGE else None
        try:
            call = plan.send(Reply(triage=read))
        except StopIteration as stop:
            return int(stop.value.tier)


def build_outcome(
    item: EvalItem,
    answers: Sequence[TierAnswer],
    judges: Mapping[str, PlannedCall],
    verdicts: Mapping[str, CallReply],
    pricer: EvalPricer,
    *,
    cascade_at: int,
) -> EvalOutcome | ItemFailure:
    """The item's row. ``judges`` are the item's judge calls by answer text (:func:`judge_calls`) and
    ``verdicts`` their replies by call key."""
    correct: list[bool] = []
    for answer in answers:
        if answer.answer is None:
            correct.append(False)
        elif item.grader != "judge":
            correct.append(grade_locally(item, answer.answer))
        else:
            reply = verdicts.get(judges[answer.answer].key)
            verdict = read_verdict(reply.body) if reply is not None else None
            if verdict is None:
                return ItemFailure(item.id, f"the judge gave no readable verdict on tier {answer.tier}'s answer")
            correct.append(verdict)
    grading = 0.0
    for call in judges.values():
        reply = verdicts[call.key]
        grading += _price(pricer, call.model, TokenUsage.from_anthropic(reply.body.get("usage")), batch=reply.batch)
    first = answers[0]
    plain = pricer.plain_cost(first.model, first.usage)
    return EvalOutcome(
        id=item.id,
        group=item.group,
        confidence=tuple(a.confidence for a in answers[:-1]),
        correct=tuple(correct),
        cost_usd=tuple(a.cost_usd for a in answers),
        plain_cost_usd=plain if plain is not None else first.cost_usd,
        cascade_tier=cascade_at,
        paid_usd=sum(a.paid_usd for a in answers),
        grading_usd=grading,
    )
