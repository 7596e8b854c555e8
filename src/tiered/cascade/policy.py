"""The routing decision, as pure logic: no I/O, no clock, no randomness.

The whole algorithm, for one request on a route ``tiers = [t0, t1, ..., tN]``::

    plan = cascade(request, route)              # a generator, like httpx's auth_flow
    call = next(plan)                           # the first call to make
    while True:
        reply = <make the call>                 # the router does I/O, streams, measures
        call = plan.send(reply)                 # StopIteration.value is the final Step

Each non-final tier gets a *triage* call (the caller's request plus the triage contract, see
:mod:`tiered.cascade.triage`). Its reply is *shipped* when the confidence (calibrated, if the route has a map) is at
least the tier's threshold and the answer is non-empty; otherwise the caller's original request is replayed,
unchanged but for ``model`` and documented :mod:`rewrites <tiered.cascade.rewrites>`, to the next tier. The final tier
answers directly. Requests for which a text triage answer could break the caller's protocol (forced tool
choice, extended thinking, an assistant prefill) never get one: see :func:`classify`.

What each model takes comes from the capability table (:mod:`tiered.cascade.fit` asks it), with reason ``capability``
and a detail naming the feature and the model whenever it changes the path: a request is triaged from the
cheapest tier that takes it and its triage; one that nothing may triage (remote MCP servers, server tools,
citations, context management) is answered as a protocol request is; a protocol request whose target tier
cannot take it goes to the tier ``capability_requests`` picks. If no tier takes it, the final tier gets it
unchanged (and its 400 reaches the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..confidence.strategy import ConfidenceStrategy, Scorer, bind  # confidence strategy hook (#21)
from ..config import RouteSettings
from ..decision import AttemptRole, EscalationReason
from .fit import Misfit, misfit, untriageable
from .rewrites import rewrite_for_model
from .stream_parse import AnswerKind, TriageStreamParser, parse_triage_object, parse_triage_text
from .triage import TRIAGE_TOOL_NAME, build_triage_request, caller_output_schema

__all__ = [
    "Call",
    "Reply",
    "RequestKind",
    "Step",
    "TriageRead",
    "Verdict",
    "cascade",
    "classify",
    "early_read",
    "final_call",
    "hedges",
    "judge",
    "read_triage_response",
    "read_triage_text",
]

RequestKind = Literal["plain", "tools", "protocol"]
# confidence strategy hook (#21): a strategy bound to its request (Scorer) supplies the score instead of a map
Calibrator = Callable[[float], float] | Scorer


@dataclass(frozen=True, slots=True)
class Call:
    """The next upstream call to make."""

    tier: int
    model: str
    role: AttemptRole
    body: dict[str, Any]
    rewrites: tuple[str, ...] = ()
    threshold: float | None = None
    structured_answer: bool = False  # triage answer uses the caller's own schema
    reason: EscalationReason | None = None  # for a final call: why the request got here (first reason)
    detail: str | None = None  # for a ``capability`` reason: the feature and the model
    calibrate: Calibrator | None = None  # a triage's scoring: its tier's recalibration map or confidence strategy


@dataclass(frozen=True, slots=True)
class TriageRead:
    """What was read from a triage reply, complete or (when streamed) as soon as the decision was known."""

    confidence: float | None = None
    answer_kind: AnswerKind | None = None
    answer: str | None = None
    problem: EscalationReason | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one triage reply: the attempt at ``tier`` carries it into its record."""

    ship: bool
    reason: EscalationReason | None
    confidence: float | None  # the model's own figure
    score: float | None  # the calibrated confidence compared with the threshold (the raw one without a map)
    threshold: float | None = None  # the threshold in force for this triage
    tier: int | None = None  # the tier whose triage it judges (set by :func:`cascade`)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the router sends back into the cascade after a call."""

    triage: TriageRead | None = None  # for triage calls
    error: bool = False  # the call failed (for triage: escalate with upstream_error)
    rejected: bool = False  # it failed because the upstream refused this request (a 4xx): cheap_tier_rejected
    cancelled: bool = False  # a hedged triage abandoned because the final tier answered first (``policy``)


@dataclass(frozen=True, slots=True)
class Step:
    """How the cascade ended: ``ship`` a triage answer, the answer of the ``final`` call, ``failed`` (the final
    call failed), or ``degraded``: the final call failed and the route allows shipping the best cheap answer
    (``degrade_to_cheap``); ``tier`` is then the tier whose answer ships."""

    kind: Literal["ship", "final", "failed", "degraded"]
    tier: int
    verdicts: tuple[Verdict, ...] = field(default=())
    reason: EscalationReason | None = None  # the first escalation reason, if any
    detail: str | None = None  # for a ``capability`` reason: the feature and the model


def classify(request: dict[str, Any]) -> RequestKind:
    """``protocol``: a text triage answer could break the caller's protocol; ``tools``: tools are offered
    with automatic choice; ``plain`` otherwise."""
    thinking = request.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled"):
        return "protocol"
    tool_choice = request.get("tool_choice")
    if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool"):
        return "protocol"
    messages = request.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        if isinstance(last, dict) and last.get("role") == "assistant":
            return "protocol"  # a prefill: the reply must continue the caller's text
    tools = request.get("tools")
    if isinstance(tools, list) and tools:
        return "tools"
    return "plain"


def read_triage_response(body: dict[str, Any], *, structured_answer: bool = False) -> TriageRead:
    """Read a complete Messages response to a triage call. Never raises."""
    problem = _stopped(body.get("stop_reason"))
    if problem is not None:
        return problem
    content = body.get("content")
    if not isinstance(content, list):
        return TriageRead(problem=EscalationReason.INVALID_OUTPUT, detail="response has no content list")
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == TRIAGE_TOOL_NAME:
            return _read(*parse_triage_object(block.get("input"), structured_answer=structured_answer))
    text = "".join(
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )
    return read_triage_text(None, text, structured_answer=structured_answer)


def read_triage_text(stop_reason: object, text: str, *, structured_answer: bool = False) -> TriageRead:
    """Read a whole triage reply given as its stop reason and its text: the one reader of a whole triage, for a
    reply read as JSON (:func:`read_triage_response`) or streamed to its end. Never raises."""
    problem = _stopped(stop_reason)
    if problem is not None:
        return problem
    return _read(*parse_triage_text(text, structured_answer=structured_answer))


def _stopped(stop_reason: object) -> TriageRead | None:
    if stop_reason == "refusal":
        return TriageRead(problem=EscalationReason.REFUSAL, detail="the model refused")
    if stop_reason == "max_tokens":
        return TriageRead(problem=EscalationReason.TRUNCATED, detail="reply cut at max_tokens")
    return None


def _read(confidence: float | None, kind: AnswerKind | None, answer: str | None, failure: str | None) -> TriageRead:
    if failure is not None:
        return TriageRead(confidence=confidence, problem=EscalationReason.INVALID_OUTPUT, detail=failure)
    return TriageRead(confidence=confidence, answer_kind=kind, answer=answer)


def scored(read: TriageRead, calibrate: Calibrator | None) -> float | None:
    """The score a triage read is judged by: its stated confidence, through the tier's recalibration map or
    scored by its confidence strategy (which may read the whole answer); ``None`` without a confidence."""
    if read.confidence is None:
        return None
    if isinstance(calibrate, Scorer):
        return calibrate.score(read)
    return calibrate(read.confidence) if calibrate is not None else read.confidence


def judge(
    read: TriageRead, threshold: float, calibrate: Calibrator | None = None, *, tier: int | None = None
) -> Verdict:
    """The ship rule for one triage reply (``tier``: the tier it came from, carried by the verdict)."""
    if read.problem is not None:
        return Verdict(False, read.problem, read.confidence, None, threshold, tier)
    if read.confidence is None:
        return Verdict(False, EscalationReason.INVALID_OUTPUT, None, None, threshold, tier)
    score = scored(read, calibrate)
    assert score is not None
    # low confidence is judged first: a streamed reply is cut as soon as its confidence is read, before its
    # answer, and both ways of reading must give the same reason
    if score < threshold:
        return Verdict(False, EscalationReason.LOW_CONFIDENCE, read.confidence, score, threshold, tier)
    if read.answer_kind in (None, "null") or (read.answer_kind == "string" and not (read.answer or "").strip()):
        return Verdict(False, EscalationReason.NO_ANSWER, read.confidence, score, threshold, tier)
    return Verdict(True, None, read.confidence, score, threshold, tier)


def early_read(
    parser: TriageStreamParser, answer_so_far: str, threshold: float, calibrate: Calibrator | None = None
) -> TriageRead | None:
    """For a streamed triage: the read to judge as soon as the decision is known, or ``None`` to keep
    reading. Known means: the reply is already invalid, the confidence is below the threshold, the answer is
    null, or the answer has begun with visible text (so a shipped answer never starts with a withdrawn
    draft). ``answer_so_far`` is the answer text decoded so far."""
    if parser.failed is not None:
        return TriageRead(confidence=parser.confidence, problem=EscalationReason.INVALID_OUTPUT, detail=parser.failed)
    if parser.buffering or parser.confidence is None:
        return None
    if isinstance(calibrate, Scorer):  # confidence strategy hook (#21)
        if calibrate.needs_answer:  # the score depends on the whole answer: judge it once it is complete
            done = parser.answer_complete or parser.answer_kind == "null"
            return TriageRead(parser.confidence, parser.answer_kind, answer_so_far) if done else None
        score = calibrate.score(TriageRead(confidence=parser.confidence))
    else:
        score = calibrate(parser.confidence) if calibrate is not None else parser.confidence
    if score < threshold:
        return TriageRead(confidence=parser.confidence)
    kind = parser.answer_kind
    if kind is None:
        return None
    if kind == "null" or parser.answer_complete or answer_so_far.strip():
        return TriageRead(confidence=parser.confidence, answer_kind=kind, answer=answer_so_far)
    return None


def _direct(
    request: dict[str, Any],
    route: RouteSettings,
    tier: int,
    reason: EscalationReason | None = None,
    detail: str | None = None,
) -> Call:
    spec = route.tiers[tier]
    body, rewrites = rewrite_for_model(request, spec.model_id, spec.drop_params)
    return Call(
        tier=tier, model=spec.model, role=AttemptRole.FINAL, body=body, rewrites=rewrites, reason=reason, detail=detail
    )


def _by_capability(
    request: dict[str, Any], route: RouteSettings, why: Misfit, betas: Sequence[str] = (), start: int = 0
) -> tuple[int, str]:
    """The tier from ``start`` on that answers a request the intended tier cannot take (``why``), per
    ``route.capability_requests``, and the decision's detail."""
    last = len(route.tiers) - 1
    able = [t for t in range(start, last + 1) if misfit(request, route.tiers[t].model_id, betas=betas) is None]
    if not able:
        return last, f"{why.feature}: {why.detail}; no tier of the route takes it, sent unchanged to the final tier"
    # "final": the final tier if it takes the request, else the highest tier that does
    tier = able[0] if route.capability_requests == "lowest" else able[-1]
    return tier, f"{why.feature}: {why.detail}; answered by {route.tiers[tier].model}"


def _start(
    request: dict[str, Any], route: RouteSettings, kind: RequestKind, betas: Sequence[str] = ()
) -> tuple[int, Call | None, str | None]:
    """Where the cascade starts: ``(tier, None, detail)`` to triage from ``tier`` on, or ``(_, call, _)`` for a
    request that is answered directly by ``call``. ``detail`` says why triage starts past the first tier."""
    last = len(route.tiers) - 1
    if route.mode == "shadow":  # hook (#19 shadow mode): the final tier answers as without tiered; no reason
        return last, _direct(request, route, last), None
    # one tier (a pass-through): nothing is triaged, so what bars a triage cannot change the tier
    barred = untriageable(request) if last > 0 else None
    policy = {"plain": "triage", "tools": route.tool_requests, "protocol": route.protocol_requests}[kind]
    if policy == "triage" and barred is not None:
        # what no triage may carry is answered as a protocol request is: by the tier the route names for those
        policy = route.protocol_requests
    if policy == "triage" and last > 0:
        first = route.tiers[0]
        why = misfit(request, first.model_id, first.triage, betas)
        if why is None:
            return 0, None, None
        # triage from the cheapest later tier that takes the request and its triage; a tier that takes the
        # request but cannot run its triage (no structured outputs, say) never answers it unchecked
        for tier in range(1, last):
            spec = route.tiers[tier]
            if misfit(request, spec.model_id, spec.triage, betas) is None:
                return tier, None, f"{why.feature}: {why.detail}; triaged by {spec.model}"
        if misfit(request, route.tiers[last].model_id, betas=betas) is None:
            detail = f"{why.feature}: {why.detail}; answered by {route.tiers[last].model}"
            return last, _direct(request, route, last, EscalationReason.CAPABILITY, detail), detail
        tier, detail = _by_capability(request, route, why, betas)
        return tier, _direct(request, route, tier, EscalationReason.CAPABILITY, detail), detail
    target = 0 if policy == "first" else last
    why = misfit(request, route.tiers[target].model_id, betas=betas)
    if why is not None:
        tier, detail = _by_capability(request, route, why, betas)
        return tier, _direct(request, route, tier, EscalationReason.CAPABILITY, detail), detail
    if barred is not None and last > 0:
        detail = f"{barred.feature}: {barred.detail}; answered by {route.tiers[target].model}"
        return target, _direct(request, route, target, EscalationReason.CAPABILITY, detail), detail
    reason = EscalationReason.POLICY if policy == "final" and last > 0 else None
    return target, _direct(request, route, target, reason), None


def final_call(request: dict[str, Any], route: RouteSettings, reason: EscalationReason | None = None) -> Call:
    """The call the cascade makes when it escalates to the final tier: the original request, replayed. A
    hedge starts it early (see ``RouteSettings.hedge_after_ms``)."""
    return _direct(request, route, len(route.tiers) - 1, reason)


def hedges(call: Call, route: RouteSettings) -> bool:
    """Is ``call`` a triage the route hedges: the last triage before the final tier, with ``hedge_after_ms``?"""
    return route.hedge_after_ms is not None and call.role is AttemptRole.TRIAGE and call.tier == len(route.tiers) - 2


def _begin(
    request: dict[str, Any],
    route: RouteSettings,
    betas: Sequence[str],
    skip: tuple[int, EscalationReason, str] | None,
) -> tuple[int, Call | None, str | None, EscalationReason | None]:
    """Where the cascade begins: :func:`_start`, then the economics' ``skip`` (a request that would be triaged
    starts at that later tier; at the final tier it is answered directly). Returns ``(tier, direct call or
    None, detail, the first escalation reason)``."""
    last = len(route.tiers) - 1
    start, direct, detail = _start(request, route, classify(request), betas)
    if direct is not None:
        return start, direct, detail, direct.reason
    if skip is not None and skip[0] > start:
        if skip[0] >= last:
            return last, _direct(request, route, last, skip[1], skip[2]), skip[2], skip[1]
        return skip[0], None, skip[2], skip[1]
    return start, None, detail, EscalationReason.CAPABILITY if start > 0 else None


def _verdict(reply: Reply, threshold: float, calibrate: Calibrator | None, tier: int) -> Verdict:
    """The verdict on one triage call's reply."""
    if reply.cancelled:
        return Verdict(False, EscalationReason.POLICY, None, None, threshold, tier)
    if reply.error or reply.triage is None:
        failed = EscalationReason.CHEAP_TIER_REJECTED if reply.rejected else EscalationReason.UPSTREAM_ERROR
        return Verdict(False, failed, None, None, threshold, tier)
    return judge(reply.triage, threshold, calibrate, tier=tier)


def _fallback(read: TriageRead | None, best: tuple[float, int] | None, tier: int) -> tuple[float, int] | None:
    """The best answer not shipped so far, ``(confidence, tier)``: what ``degrade_to_cheap`` would ship."""
    if (
        read is not None
        and read.problem is None
        and read.confidence is not None
        and read.answer_kind in ("string", "json")
        and (read.answer or "").strip()
        and (best is None or read.confidence > best[0])
    ):
        return read.confidence, tier
    return best


def cascade(
    request: dict[str, Any],
    route: RouteSettings,
    calibrators: Mapping[int, Calibrator | ConfidenceStrategy] | None = None,
    betas: Sequence[str] = (),
    skip: tuple[int, EscalationReason, str] | None = None,
) -> Generator[Call, Reply, Step]:
    """Drive one request down ``route``: yields calls, receives :class:`Reply` objects, returns a Step.

    ``calibrators`` maps a tier index to its recalibration map; ``betas`` are the request's ``anthropic-beta``
    flags (data, so the policy stays pure: a tier whose model does not take one is not sent the request).
    ``skip`` (tier, reason, detail), from :mod:`tiered.economics`: a request that would be triaged starts at
    that later tier instead (the final tier: answered there directly)."""
    last = len(route.tiers) - 1
    start, direct, detail, first_reason = _begin(request, route, betas, skip)
    if direct is not None:
        yield direct
        return Step("final", direct.tier, reason=direct.reason, detail=direct.detail)
    structured_answer = caller_output_schema(request) is not None
    verdicts: list[Verdict] = []
    fallback: tuple[float, int] | None = None  # (confidence, tier) of the best answer not shipped
    for tier in range(start, last):
        spec = route.tiers[tier]
        threshold = route.threshold_for(tier)
        triage_body = build_triage_request(request, spec.model_id, spec.triage)
        body, rewrites = rewrite_for_model(triage_body, spec.model_id, spec.drop_params)
        calibrate = bind((calibrators or {}).get(tier), request)  # a strategy is bound to its request
        reply = yield Call(
            tier=tier,
            model=spec.model,
            role=AttemptRole.TRIAGE,
            body=body,
            rewrites=rewrites,
            threshold=threshold,
            structured_answer=structured_answer,
            calibrate=calibrate,
        )
        verdict = _verdict(reply, threshold, calibrate, tier)
        verdicts.append(verdict)
        if verdict.ship:
            return Step("ship", tier, tuple(verdicts), first_reason, detail)
        first_reason = first_reason or verdict.reason
        fallback = _fallback(reply.triage, fallback, tier)
    reply = yield _direct(request, route, last, first_reason, detail)
    if reply.error:
        if route.degrade_to_cheap and fallback is not None:
            return Step("degraded", fallback[1], tuple(verdicts), first_reason, detail)
        return Step("failed", last, tuple(verdicts), first_reason, detail)
    return Step("final", last, tuple(verdicts), first_reason, detail)
