"""Confidence strategies measured offline: ``tiered eval --strategy`` beside the bare self-report.

After an evaluation (:func:`tiered.offline.eval_run.run_eval`) every item has its first tier's triage reply,
the correctness of that answer and of the final tier's, and both costs. This module scores the first tier's
draft with other strategies and reports each one beside ``self_report`` on the same items:

- ``consistency``: ``samples - 1`` more triage calls of the same body at ``temperature``; the score is the
  share of all ``samples`` answers (the draft included) that agree with the draft, compared as the item's
  grader compares (the number for ``numeric``, the option letter for ``multiple_choice``, the normalised
  text otherwise). The draft is what ships, so its grade stays the answer's grade. (Live, the majority
  answer would ship; offline it is the draft's agreement that is scored, which needs no new grading.)
- ``verify``: one more call to the first tier, framed as grading a supplied answer; the score is the
  probability it states that the answer is correct (an unreadable reply scores 0).
- ``learned``: the logistic model of a ``tiered confidence train`` model file over features that cost no call.

Each strategy gets its AUROC (DeLong interval), ECE, and at the false-confident target the lowest threshold
whose one-sided Clopper-Pearson bound on shipped wrong answers is at most the target, the share it ships, the
accuracy and the savings against the final tier alone, with the strategy's own extra calls paid on every item.
Extra calls are made live (no batch mode) and cached in the evaluation's cache, so a rerun pays nothing.
Needs the ``tiered[eval]`` extra.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tiered.cascade.policy import read_triage_response
from tiered.cascade.stop_sequences import ending
from tiered.decision import TokenUsage
from tiered.errors import ConfigError, UpstreamError
from tiered.offline.eval_answers import extract_choice, extract_number, normalize
from tiered.offline.eval_cache import EvalCache
from tiered.offline.eval_dataset import EvalItem
from tiered.offline.eval_plan import CallReply, EvalOutcome, PlannedCall, call_key, plan_item, read_tiers
from tiered.offline.eval_prices import EvalPricer

if TYPE_CHECKING:
    from tiered.offline.eval_run import EvalConfig
    from tiered.upstreams import Upstreams

__all__ = ["STRATEGIES", "SignalOptions", "SignalRow", "score_signals", "verify_request"]

STRATEGIES: Final = ("consistency", "verify", "learned")

VERIFY_SYSTEM: Final = (
    "You grade answers written by someone else. Read the conversation and the proposed answer to its last "
    "message, judge whether the proposed answer is correct, and reply with only the probability, a number "
    "between 0 and 1, that it is correct."
)
_PROBABILITY: Final = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(%?)")


@dataclass(frozen=True, slots=True)
class SignalOptions:
    strategies: tuple[str, ...]
    samples: int = 5
    temperature: float = 1.0
    confidence_model: Path | None = None
    target: float = 0.05
    level: float = 0.95


@dataclass(frozen=True, slots=True)
class SignalRow:
    """One strategy on the evaluated items."""

    strategy: str
    items: int
    auroc: float | None
    auroc_low: float | None
    auroc_high: float | None
    ece: float
    threshold: float | None
    shipped: float
    accuracy: float
    savings: float | None
    cost_per_item_usd: float
    extra_calls: int
    unreadable: int


@dataclass(frozen=True, slots=True)
class _Item:
    item: EvalItem
    outcome: EvalOutcome
    triage: PlannedCall
    confidence: float | None
    answer: str | None


def verify_request(item: EvalItem, answer: str, model_id: str, max_tokens: int) -> dict[str, Any]:
    """The ``verify`` call: the conversation and the draft, to be graded as someone else's answer."""
    from tiered.quality.transcript import parse_request_text, render_transcript, request_text

    conversation = render_transcript(parse_request_text(request_text(item.request(max_tokens))))
    prompt = f"<conversation>\n{conversation}\n</conversation>\n\n<proposed_answer>\n{answer}\n</proposed_answer>"
    return {
        "model": model_id,
        "max_tokens": 16,
        "system": VERIFY_SYSTEM,
        "messages": [{"role": "user", "content": prompt}],
    }


def read_probability(text: str) -> float | None:
    """The first probability in ``text`` (``0.8``, ``80%``), or None."""
    match = _PROBABILITY.search(text)
    if match is None:
        return None
    value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    return value if 0.0 <= value <= 1.0 else None


async def score_signals(
    items: Sequence[EvalItem],
    config: EvalConfig,
    outcomes: Sequence[EvalOutcome],
    cache: EvalCache,
    upstreams: Upstreams,
    options: SignalOptions,
    pricer: EvalPricer,
) -> list[SignalRow]:
    """``self_report`` and each of ``options.strategies`` on the items that have an outcome row."""
    unknown = sorted(set(options.strategies) - set(STRATEGIES))
    if unknown:
        raise ConfigError(f"unknown strategy {', '.join(unknown)}; use {', '.join(STRATEGIES)}")
    if options.samples < 2 and "consistency" in options.strategies:
        raise ConfigError("consistency needs at least 2 samples")
    data = _items(items, config, outcomes, cache, pricer)
    calls = {name: _extra_calls(name, data, config, options) for name in options.strategies}
    failures = await _send([c for per in calls.values() for cs in per.values() for c in cs], config, cache, upstreams)
    replies = cache.replies()
    rows = [_row("self_report", [d.confidence for d in data], data, [0.0] * len(data), 0, 0, options)]
    for name in options.strategies:
        scores, extra, unreadable = _scores(name, data, calls[name], replies, failures, options, config, pricer)
        rows.append(_row(name, scores, data, extra, sum(len(c) for c in calls[name].values()), unreadable, options))
    return rows


def _items(
    items: Sequence[EvalItem],
    config: EvalConfig,
    outcomes: Sequence[EvalOutcome],
    cache: EvalCache,
    pricer: EvalPricer,
) -> list[_Item]:
    by_id = {o.id: o for o in outcomes}
    replies = cache.replies()
    out: list[_Item] = []
    for item in items:
        outcome = by_id.get(item.id)
        if outcome is None:
            continue
        plan = plan_item(item, config.route, max_tokens=config.max_tokens)
        first = read_tiers(plan[:1], replies, pricer)[0]
        out.append(_Item(item, outcome, plan[0], first.confidence, first.answer))
    return out


def _extra_calls(
    name: str, data: Sequence[_Item], config: EvalConfig, options: SignalOptions
) -> dict[str, list[PlannedCall]]:
    """The calls ``name`` needs, by item id (none for ``learned``; none for an item without a draft)."""
    out: dict[str, list[PlannedCall]] = {}
    for d in data:
        if d.answer is None:
            continue
        tier = d.triage.tier or 0  # the first tier that triaged the item (a later one when the first cannot)
        spec = config.route.tiers[tier]
        if name == "consistency":
            body = {**d.triage.body, "temperature": options.temperature}
            base = call_key(spec.provider, body)
            out[d.item.id] = [replace(d.triage, key=f"{base}-s{i}", body=body) for i in range(1, options.samples)]
        elif name == "verify":
            body = verify_request(d.item, d.answer, spec.model_id, config.max_tokens)
            key = call_key(spec.provider, body)
            out[d.item.id] = [PlannedCall(key, "judge", tier, spec.model, spec.provider, body)]
    return out


async def _send(calls: Sequence[PlannedCall], config: EvalConfig, cache: EvalCache, links: Upstreams) -> set[str]:
    """Make the calls the cache lacks, ``config.concurrency`` at a time; the keys of those that failed."""
    import anyio

    todo = list({c.key: c for c in calls if c.key not in cache}.values())
    failed: set[str] = set()
    limit = anyio.Semaphore(config.concurrency)

    async def one(call: PlannedCall) -> None:
        async with limit:
            provider = links.provider(call.provider, retries=config.route.tiers[call.tier or 0].max_retries)
            try:
                response = await provider.send(call.body)
            except UpstreamError:
                failed.add(call.key)
                return
            cache.put(call.key, CallReply(response.body))

    async with anyio.create_task_group() as group:
        for call in todo:
            group.start_soon(one, call)
    return failed


def _scores(
    name: str,
    data: Sequence[_Item],
    calls: Mapping[str, list[PlannedCall]],
    replies: Mapping[str, CallReply],
    failures: set[str],
    options: SignalOptions,
    config: EvalConfig,
    pricer: EvalPricer,
) -> tuple[list[float | None], list[float], int]:
    """Per item: the strategy's score (None: nothing ships), its extra cost, and the unreadable count."""
    scores: list[float | None] = []
    extra: list[float] = []
    unreadable = 0
    learned = _learned(options) if name == "learned" else None
    for d in data:
        own = calls.get(d.item.id, [])
        got = [(replies[c.key], c) for c in own if c.key in replies and c.key not in failures]
        extra.append(sum(_cost(pricer, c.model, replies[c.key]) for c in own if c.key in replies))
        if d.answer is None:
            scores.append(None)
        elif name == "consistency":
            draft = _agreement_key(d.item, d.answer)
            same = sum(_agreement_key(d.item, a) == draft for a in _sample_answers(got))
            unreadable += len(own) - len(got)
            scores.append((1 + same) / options.samples)
        elif name == "verify":
            stated = read_probability(_text(got[0][0].body)) if got else None
            unreadable += stated is None
            scores.append(stated if stated is not None else 0.0)
        else:
            assert learned is not None
            scores.append(_learned_score(learned, d, config))
    return scores, extra, unreadable


def _learned(options: SignalOptions) -> Any:
    from tiered.confidence.model_file import load_learned

    if options.confidence_model is None:
        raise ConfigError("the learned strategy needs --confidence-model (a tiered confidence train model file)")
    try:
        return load_learned(options.confidence_model)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _learned_score(learned: Any, d: _Item, config: EvalConfig) -> float:
    from tiered.cascade.policy import TriageRead
    from tiered.confidence.strategy import request_facts

    read = TriageRead(confidence=d.confidence, answer=d.answer)
    return float(learned.score(read, request_facts(d.item.request(config.max_tokens))))


def _sample_answers(got: Sequence[tuple[CallReply, PlannedCall]]) -> list[str | None]:
    out: list[str | None] = []
    for reply, call in got:
        read = read_triage_response(reply.body, structured_answer=call.structured_answer)
        usable = read.problem is None and read.answer_kind in ("string", "json") and (read.answer or "").strip()
        out.append(ending(read.answer or "", call.stop_sequences).text if usable else None)
    return out


def _agreement_key(item: EvalItem, answer: str | None) -> Any:
    if answer is None:
        return None
    if item.grader == "numeric":
        return extract_number(answer)
    if item.grader == "multiple_choice":
        return extract_choice(answer, item.choices)
    return normalize(answer)


def _text(body: Mapping[str, Any]) -> str:
    content = body.get("content")
    blocks = content if isinstance(content, list) else []
    return "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")


def _cost(pricer: EvalPricer, model: str, reply: CallReply) -> float:
    return pricer.cost(model, TokenUsage.from_anthropic(reply.body.get("usage")), batch=False) or 0.0


def _row(
    name: str,
    scores: Sequence[float | None],
    data: Sequence[_Item],
    extra: Sequence[float],
    calls: int,
    unreadable: int,
    options: SignalOptions,
) -> SignalRow:
    import numpy as np

    from tiered.confidence.metrics import auroc_interval, expected_calibration_error
    from tiered.confidence.training import at_target

    usable = np.array([s is not None for s in scores], dtype=bool)
    score = np.array([0.0 if s is None else s for s in scores], dtype=np.float64)
    right = np.array([d.outcome.correct[0] for d in data], dtype=bool)
    final_right = np.array([d.outcome.correct[-1] for d in data], dtype=bool)
    triage = np.array([d.outcome.cost_usd[0] for d in data]) + np.asarray(extra, dtype=np.float64)
    final = np.array([d.outcome.cost_usd[-1] for d in data], dtype=np.float64)
    threshold, _ = at_target(score[usable], right[usable], options.target, options.level)
    ships = usable & (score >= threshold) if threshold is not None else np.zeros(len(data), dtype=bool)
    cost = triage + np.where(ships, 0.0, final)
    interval = auroc_interval(score, right) if len(data) else None
    return SignalRow(
        strategy=name,
        items=len(data),
        auroc=None if interval is None else interval.auroc,
        auroc_low=None if interval is None else interval.low,
        auroc_high=None if interval is None else interval.high,
        ece=expected_calibration_error(score, right) if len(data) else 0.0,
        threshold=threshold,
        shipped=float(ships.mean()) if len(data) else 0.0,
        accuracy=float(np.where(ships, right, final_right).mean()) if len(data) else 0.0,
        savings=float(1.0 - cost.sum() / final.sum()) if final.sum() > 0 else None,
        cost_per_item_usd=float(cost.mean()) if len(data) else 0.0,
        extra_calls=calls,
        unreadable=unreadable,
    )
