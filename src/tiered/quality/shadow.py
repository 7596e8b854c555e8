"""Shadow mode: what a route *would* ship, save and get wrong, measured on its own traffic before it goes live.

A route with ``mode = "shadow"`` answers every request with its final tier, exactly as without tiered (the
cascade sends it there directly, with no escalation reason). :class:`ShadowObserver` then takes a share of
those requests (``shadow_share``, reproducibly from the decision id) and, in background, on the proxy's event
loop:

1. sends the first tier the same triage request the cascade would (:func:`~tiered.cascade.triage.
   build_triage_request` and the model's rewrites), read whole (no early abort: every confidence is wanted);
2. reads it with the cascade's own reader; a reply that could never ship (invalid, refused, truncated, a null
   or empty answer) is kept with its reason and no verdict;
3. asks the judge whether the triage answer could replace the final tier's (pairwise, the final answer as the
   reference, :data:`~tiered.quality.judge.PAIRWISE_INSTRUCTION`);
4. records a ``shadow_results`` row: confidence (calibrated when the tier has a map), reason, verdict, and the
   triage, final and judge costs. :mod:`.projection` turns the rows into ship rate, savings and
   false-confident rate per candidate threshold.

On the request path :meth:`ShadowObserver.offer` does a hash and an append to a bounded queue, never blocks
and never raises; a full queue drops the request and counts it. Shadow spend (triage and judge) is capped per
route over ``judge.spend_window_hours`` (``shadow_spend_cap_usd``), summed from every replica's rows plus this
process's calls in flight; it may overshoot by at most ``judge.concurrency`` calls already running.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from tiered.cascade.policy import read_triage_response, scored
from tiered.cascade.rewrites import rewrite_for_model
from tiered.cascade.triage import build_triage_request, caller_output_schema
from tiered.confidence.strategy import bind
from tiered.config import TierSettings
from tiered.decision import EscalationReason, TokenUsage
from tiered.store.shadow import ShadowRow, record_shadow, shadow_spent

from .judge import JudgeOutputError, judge_request, parse_verdict
from .judge_worker import judge_model
from .sampler import audit_draw
from .transcript import parse_request_text, request_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.cascade.policy import TriageRead
    from tiered.config import RouteSettings, Settings
    from tiered.decision import Decision
    from tiered.router import Router
    from tiered.runner.attempts import Exchange

__all__ = ["ShadowItem", "ShadowObserver", "shadow_enabled", "shadow_picked", "triage_problem"]

log = logging.getLogger("tiered.quality.shadow")

SALT = "shadow"


@dataclass(frozen=True, slots=True)
class ShadowItem:
    """A request its shadow route's final tier answered, waiting for its background triage."""

    decision_id: str
    route: str
    slice: str | None
    request: Mapping[str, Any]
    answer: str
    final_cost_usd: float | None


def shadow_enabled(settings: Settings) -> bool:
    return any(spec.mode == "shadow" and spec.shadow_share > 0 for spec in settings.routes.values())


def shadow_picked(decision: Decision, spec: RouteSettings) -> bool:
    """Is ``decision`` (of a shadow route) one of the share triaged in background? Reproducible from its id."""
    return (
        spec.mode == "shadow"
        and len(spec.tiers) > 1
        and not decision.passthrough
        and decision.error is None
        and decision.answer_tier == len(spec.tiers) - 1
        and audit_draw(decision.id, SALT) < spec.shadow_share
    )


def triage_problem(read: TriageRead, score: float | None) -> str | None:
    """Why this triage could ship at no threshold, as the cascade would say it; ``None`` when it could."""
    if read.problem is not None:
        return str(read.problem)
    if score is None:
        return str(EscalationReason.INVALID_OUTPUT)
    if read.answer_kind in (None, "null") or not (read.answer or "").strip():
        return str(EscalationReason.NO_ANSWER)
    return None


class ShadowObserver:
    source = "shadow"  # the rows' source, and whose spend cap applies

    def __init__(
        self, settings: Settings, router: Router, engine: Engine, *, judging: bool = True, queue_size: int = 1000
    ) -> None:
        self._settings = settings
        self._judging = judging  # without a judge, rows say what would ship and save, not what was wrong
        self._router = router
        self._engine = engine
        self._queue: deque[ShadowItem] = deque()
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # decision id -> (route, cost of its calls made but not yet recorded)
        self._inflight: dict[str, tuple[str, float]] = {}
        self._busy = 0
        self.counts: Counter[str] = Counter()  # offered, dropped, capped, recorded, failed

    # -- the request path ----------------------------------------------------------------------------------

    def offer(self, decision: Decision, exchange: Exchange) -> None:
        """Router observer: queue a picked shadow request. Cheap; never blocks, never raises."""
        try:
            spec = self._settings.routes.get(decision.route)
            if spec is None or exchange.answer_text is None or not shadow_picked(decision, spec):
                return
            item = ShadowItem(
                decision.id, decision.route, decision.slice, exchange.request, exchange.answer_text, decision.cost_usd
            )
            with self._lock:
                if len(self._queue) >= self._queue_size:
                    self.counts["dropped"] += 1
                    return
                self._queue.append(item)
                self.counts["offered"] += 1
            loop, event = self._loop, self._event
            if loop is not None and event is not None and not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
        except Exception:
            self.counts["failed"] += 1
            log.exception("shadow: could not queue %s", getattr(decision, "id", "?"))

    # -- background, on the event loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Triage and judge queued requests until cancelled. Never raises."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        async with anyio.create_task_group() as group:
            while True:
                with anyio.move_on_after(self._settings.judge.poll_interval_s):
                    await self._event.wait()
                self._event.clear()
                while self._busy < self._settings.judge.concurrency:
                    with self._lock:
                        item = self._queue.popleft() if self._queue else None
                    if item is None:
                        break
                    self._busy += 1
                    group.start_soon(self._shadow, item)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + self._busy

    async def _shadow(self, item: ShadowItem) -> None:
        try:
            if await anyio.to_thread.run_sync(self._capped, item.route):
                self.counts["capped"] += 1
                return
            row = await self._triage_and_judge(item)
            if await anyio.to_thread.run_sync(record_shadow, self._engine, row):
                self.counts["recorded"] += 1
        except Exception:
            self.counts["failed"] += 1
            log.exception("shadow: the triage of %s failed", item.decision_id)
        finally:
            self._inflight.pop(item.decision_id, None)
            self._busy -= 1

    def _capped(self, route: str) -> bool:
        spec = self._settings.routes[route]
        since = datetime.now(UTC) - timedelta(hours=self._settings.judge.spend_window_hours)
        running = sum(cost for name, cost in list(self._inflight.values()) if name == route)
        spent = shadow_spent(self._engine, route, since, self.source) + running
        return spent >= (spec.shadow_spend_cap_usd if self.source == "shadow" else spec.explore_spend_cap_usd)

    async def _call(self, item: ShadowItem, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
        tier = TierSettings(model=model)
        response = await self._router.upstreams.provider(tier.provider, retries=0).send(body)
        usage = response.body.get("usage")
        cost = self._router.prices.cost(
            model, TokenUsage.from_anthropic(usage), usage if isinstance(usage, dict) else None
        )
        spent = self._inflight.get(item.decision_id, (item.route, 0.0))[1]
        self._inflight[item.decision_id] = (item.route, spent + (cost or 0.0))
        return response.body, cost

    async def _judge(self, item: ShadowItem, answer: str) -> tuple[str | None, float | None]:
        """The judge's verdict on the triage's ``answer`` against the final tier's (pairwise), and its cost;
        ``(None, None)`` without a judge."""
        judge = judge_model(self._settings, item.route)
        if judge is None or not self._judging:
            return None, None
        asked = judge_request(
            TierSettings(model=judge).model_id,
            parse_request_text(request_text(item.request)),
            answer,
            max_tokens=self._settings.judge.max_tokens,
            reference=item.answer,
        )
        judged, cost = await self._call(item, judge, asked)
        try:
            return parse_verdict(judged).verdict.value, cost
        except JudgeOutputError:  # kept without a verdict, so that its cost still counts
            self.counts["judge_invalid"] += 1
            return None, cost

    async def _triage_and_judge(self, item: ShadowItem) -> ShadowRow:
        spec = self._settings.routes[item.route]
        first = spec.tiers[0]
        request = dict(item.request)
        body, _ = rewrite_for_model(
            build_triage_request(request, first.model_id, first.triage), first.model_id, first.drop_params
        )
        body["stream"] = False
        try:
            reply, triage_cost = await self._call(item, first.model, body)
        except Exception as exc:  # as live: a failed triage escalates
            log.info("shadow: the triage of %s failed (%s)", item.decision_id, type(exc).__name__)
            reply, triage_cost = {"content": None}, None
            self.counts["triage_failed"] += 1
        read = read_triage_response(reply, structured_answer=caller_output_schema(request) is not None)
        score = scored(read, bind(self._router.calibrate_for(spec, 0), request))  # as the live cascade scores it
        problem = triage_problem(read, score) if triage_cost is not None or reply.get("content") else "upstream_error"
        verdict, judge_cost = await self._judge(item, read.answer or "") if problem is None else (None, None)
        return ShadowRow(
            decision_id=item.decision_id,
            route=item.route,
            slice=item.slice,
            model=first.model,
            confidence=score,
            problem=problem,
            verdict=verdict,
            triage_cost_usd=triage_cost,
            final_cost_usd=item.final_cost_usd,
            judge_cost_usd=judge_cost,
            created_at=datetime.now(UTC),
        )
