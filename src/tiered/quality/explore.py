"""Exploration in live mode: unbiased evidence below a live route's threshold.

A live route never ships, so never grades, the answers its threshold escalates: nothing measures whether a lower
threshold would do. With ``explore_rate`` (per route, default 0) the runner, when it escalates a first-tier
triage, hands the open triage stream to :class:`Explorer` instead of cutting it, for that share of requests
(reproducibly from the decision id, as the audit sampler draws). In the background, on the proxy's event loop
(the caller's response comes from the final tier as usual and never waits for it):

1. the triage is read to its end with the cascade's reader and scored as the cascade scores it;
2. once the request's decision is recorded, the judge compares the triage's answer with the final tier's
   (pairwise, the final answer as the reference, as in shadow mode);
3. a ``shadow_results`` row is recorded with ``source = 'explore'`` and the inverse-propensity weight
   ``1 / explore_rate``; the two-sided controller reads them for its lowering side (see
   :func:`tiered.quality.controller.explore_evidence`).

Exploration spend (the triage read to its end and its judge) is capped per route over
``judge.spend_window_hours`` (``explore_spend_cap_usd``), from every replica's rows; a capped route is checked
every ``judge.poll_interval_s`` and explores nothing meanwhile (the check on the request path is a set lookup).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from tiered.cascade.policy import scored
from tiered.decision import AttemptRole, TokenUsage
from tiered.store.shadow import ShadowRow, record_shadow

from .sampler import audit_draw
from .shadow import ShadowItem, ShadowObserver, triage_problem

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.cascade.policy import TriageRead
    from tiered.config import RouteSettings, Settings
    from tiered.decision import Decision
    from tiered.router import Router
    from tiered.runner.attempts import Exchange
    from tiered.runner.legs import Leg

__all__ = ["Explorer", "explore_enabled", "explore_picked"]

log = logging.getLogger("tiered.quality.explore")

SALT = "explore"
_FINAL_WAIT_S = 600.0  # a decision not recorded by then (it always is, at the request's end) is given up


def explore_enabled(settings: Settings) -> bool:
    return any(spec.mode == "live" and spec.explore_rate > 0 for spec in settings.routes.values())


def explore_picked(decision_id: str, spec: RouteSettings) -> bool:
    """Is this request's escalated triage explored? Reproducible from its id."""
    return spec.mode == "live" and spec.explore_rate > 0 and audit_draw(decision_id, SALT) < spec.explore_rate


@dataclass(frozen=True, slots=True)
class _Final:
    decision: Decision
    request: Mapping[str, Any]  # the caller's
    answer: str | None

    def cost(self) -> float | None:
        """What the final tier's answer cost (the attempt that answered)."""
        costs = [a.cost_usd for a in self.decision.attempts if a.role is AttemptRole.FINAL and a.cost_usd is not None]
        return costs[-1] if costs else None


def _settle(future: asyncio.Future[_Final], final: _Final) -> None:
    if not future.done():
        future.set_result(final)


class Explorer(ShadowObserver):
    source = "explore"

    def __init__(self, settings: Settings, router: Router, engine: Engine, *, judging: bool = True) -> None:
        super().__init__(settings, router, engine, judging=judging)
        self._finals: dict[str, asyncio.Future[_Final]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._capped_routes: set[str] = set()

    # -- the request path ----------------------------------------------------------------------------------

    def wants(self, decision_id: str, route: str, spec: RouteSettings) -> bool:
        """Should the runner hand over this escalated first-tier triage? A hash and a set lookup. At most
        ``queue_size`` explorations run at once (each holds its triage's connection and in-flight slot until
        the triage ends); a pick over that is dropped and counted."""
        if self._loop is None or route in self._capped_routes or not explore_picked(decision_id, spec):
            return False
        if len(self._tasks) >= self._queue_size:
            self.counts["dropped"] += 1
            return False
        return True

    def adopt(self, decision_id: str, route: str, leg: Leg) -> None:
        """Take over ``leg`` (an escalated triage, its stream open on ``leg.stack``): read it to its end and
        judge it in background. The stream is closed by the explorer. Must be called on the event loop."""
        loop = asyncio.get_running_loop()
        self._finals[decision_id] = loop.create_future()
        task = loop.create_task(self._explore(decision_id, route, leg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.counts["offered"] += 1

    def offer(self, decision: Decision, exchange: Exchange) -> None:
        """Router observer: the final answer of an explored request (cheap; never raises)."""
        future = self._finals.get(decision.id)
        loop = self._loop
        if future is None or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(_settle, future, _Final(decision, exchange.request, exchange.answer_text))

    def pending(self) -> int:
        return len(self._tasks)

    # -- background ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the spend caps fresh until cancelled; then cancel the explorations under way."""
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                await self._refresh_caps()
                await anyio.sleep(self._settings.judge.poll_interval_s)
        finally:
            self._loop = None
            for task in list(self._tasks):
                task.cancel()

    async def _refresh_caps(self) -> None:
        for name, spec in self._settings.routes.items():
            if spec.mode != "live" or spec.explore_rate <= 0:
                continue
            try:
                capped = await anyio.to_thread.run_sync(self._capped, name)
            except Exception:
                log.exception("explore: could not read the spend of %s", name)
                continue
            (self._capped_routes.add if capped else self._capped_routes.discard)(name)

    async def _explore(self, decision_id: str, route: str, leg: Leg) -> None:
        spec = self._settings.routes[route]
        try:
            read, cost = await self._read_rest(leg, spec)
            self._inflight[decision_id] = (route, cost or 0.0)
            final = await asyncio.wait_for(self._finals[decision_id], _FINAL_WAIT_S)
            if final.decision.error is not None or final.answer is None:
                self.counts["no_final"] += 1
                return
            row = await self._judged(decision_id, route, spec, leg, read, cost, final)
            if await anyio.to_thread.run_sync(record_shadow, self._engine, row):
                self.counts["recorded"] += 1
        except Exception:
            self.counts["failed"] += 1
            log.exception("explore: the exploration of %s failed", decision_id)
        finally:
            self._finals.pop(decision_id, None)
            self._inflight.pop(decision_id, None)

    async def _read_rest(self, leg: Leg, spec: RouteSettings) -> tuple[TriageRead | None, float | None]:
        """The triage read to its end (``None`` when its stream failed) and what the whole triage cost."""
        from tiered.runner.attempts import PendingAttempt
        from tiered.runner.triage_read import read_triage_to_end

        state = leg.state
        assert state is not None and leg.events is not None
        read: TriageRead | None = None
        try:
            # a scratch attempt: the request's own is the decision's, recorded as the cascade left it
            read = await read_triage_to_end(leg.events, leg.call, PendingAttempt(leg.call), state, leg.source)
        except Exception as exc:
            log.info("explore: the triage stream failed (%s)", type(exc).__name__)
            self.counts["triage_failed"] += 1
        finally:
            with anyio.CancelScope(shield=True):
                await leg.stack.aclose()
        usage = state.usage if state.finished else None
        model = spec.tiers[leg.call.tier].model
        cost = self._router.prices.cost(model, TokenUsage.from_anthropic(usage), usage) if usage else None
        return read, cost

    async def _judged(
        self,
        decision_id: str,
        route: str,
        spec: RouteSettings,
        leg: Leg,
        read: TriageRead | None,
        cost: float | None,
        final: _Final,
    ) -> ShadowRow:
        score = scored(read, leg.call.calibrate) if read is not None else None
        problem = "upstream_error" if read is None else triage_problem(read, score)
        decision = final.decision
        item = ShadowItem(decision_id, route, decision.slice, final.request, final.answer or "", final.cost())
        verdict = judge_cost = None
        if problem is None and read is not None:
            verdict, judge_cost = await self._judge(item, read.answer or "")
        return ShadowRow(
            decision_id=decision_id,
            route=route,
            slice=decision.slice,
            model=spec.tiers[leg.call.tier].model,
            confidence=score,
            problem=problem,
            verdict=verdict,
            triage_cost_usd=cost,
            final_cost_usd=item.final_cost_usd,
            judge_cost_usd=judge_cost,
            created_at=datetime.now(UTC),
            source=self.source,
            weight=1.0 / spec.explore_rate,
        )
