"""The judge worker: grades pending audit samples in the background, with bounded concurrency and a spend cap.

It runs as a task on the proxy's event loop (the providers' HTTP clients live there) and does its database
work in worker threads. Samples are taken from the database, not from memory, so a restart or another
replica picks up where this one stopped; a sample is *claimed* (``status`` pending -> judging, a conditional
update only one replica can win) before its judge call, and released if the call fails. A sample the judge
failed on ``max_attempts`` times is left pending, for people (``tiered grade``).

The spend cap is shared by every replica: before claiming, the worker sums the cost of the judge's grades in
the last ``spend_window_hours`` (plus what this process spent on replies it could not read). It may overshoot
by at most ``concurrency`` calls that were already running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from tiered.config import TierSettings
from tiered.decision import TokenUsage
from tiered.store.schema import GraderKind

from .judge import JudgeOutputError, judge_request, parse_verdict
from .sampler import pick_weight
from .transcript import parse_request_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.metrics import Metrics
    from tiered.router import Router
    from tiered.store.grades import AuditItem

__all__ = ["JudgeWorker", "judge_enabled", "judge_model"]

log = logging.getLogger("tiered.quality.judge")

PENDING, JUDGING = "pending", "judging"
STALE_CLAIM = timedelta(hours=1)


def judge_model(settings: Settings, route: str) -> str | None:
    """The judge model for ``route``: ``judge.model``, else the route's final tier."""
    if settings.judge.model:
        return settings.judge.model
    spec = settings.routes.get(route)
    return spec.tiers[-1].model if spec is not None else None


def judge_enabled(settings: Settings) -> bool:
    """``judge.enabled``; ``auto`` means on when every judge provider has an API key of its own."""
    mode = settings.judge.enabled
    if mode != "auto":
        return mode == "on"
    models = {judge_model(settings, name) for name in settings.routes}
    providers = {TierSettings(model=m).provider for m in models if m}
    return bool(providers) and all(
        name in settings.providers and settings.providers[name].api_key is not None for name in providers
    )


class JudgeWorker:
    def __init__(self, settings: Settings, router: Router, engine: Engine, metrics: Metrics | None = None) -> None:
        self._settings = settings
        self._router = router
        self._engine = engine
        self._metrics = metrics
        self._busy = 0
        self._attempts: dict[str, int] = {}
        self._skip: set[str] = set()
        self._unrecorded: deque[tuple[float, float]] = deque()  # (monotonic time, cost) of unreadable replies
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._capped_logged = 0.0
        self.graded = 0

    def wake(self) -> None:
        """Look for samples now (safe from any thread)."""
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def run(self) -> None:
        """Grade samples until cancelled. Never raises: failures are counted and logged."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        try:
            await anyio.to_thread.run_sync(self._release_stale)
        except Exception:
            self._count("error")
            log.exception("could not release stale judge claims")
        async with anyio.create_task_group() as group:
            while True:
                with anyio.move_on_after(self._settings.judge.poll_interval_s):
                    await self._event.wait()
                self._event.clear()
                free = self._settings.judge.concurrency - self._busy
                if free <= 0:
                    continue
                try:
                    claimed = await anyio.to_thread.run_sync(self._claim, free)
                except Exception:
                    self._count("error")
                    log.exception("the judge could not claim audit samples; retrying")
                    continue
                for item in claimed:
                    self._busy += 1
                    group.start_soon(self._judge, item)

    # -- database side (worker threads) -----------------------------------------------------------------

    def _release_stale(self) -> None:
        import sqlalchemy as sa

        from tiered.store.schema import audit_samples

        cutoff = datetime.now(UTC) - STALE_CLAIM
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(audit_samples)
                .where(audit_samples.c.status == JUDGING, audit_samples.c.created_at < cutoff)
                .values(status=PENDING)
            )

    def spent(self) -> float:
        """What the judge spent in the spend window (every replica's recorded grades, and this one's
        unreadable replies)."""
        import sqlalchemy as sa

        from tiered.store.schema import grades

        window = timedelta(hours=self._settings.judge.spend_window_hours)
        since = datetime.now(UTC) - window
        with self._engine.connect() as conn:
            recorded = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(grades.c.cost_usd), 0.0)).where(
                    grades.c.grader_kind == GraderKind.JUDGE.value, grades.c.created_at >= since
                )
            ).scalar_one()
        horizon = time.monotonic() - window.total_seconds()
        while self._unrecorded and self._unrecorded[0][0] < horizon:
            self._unrecorded.popleft()
        return float(recorded) + sum(cost for _, cost in list(self._unrecorded))

    def _claim(self, free: int) -> list[AuditItem]:
        import sqlalchemy as sa

        from tiered.store.grades import pending_audits
        from tiered.store.schema import audit_samples

        cap = self._settings.judge.spend_cap_usd
        spent = self.spent()
        if spent >= cap:
            self._count("capped")
            now = time.monotonic()
            if now - self._capped_logged > 3600:
                self._capped_logged = now
                log.warning("judge spend cap reached ($%.4f of $%.2f): audit samples wait for people", spent, cap)
            return []
        claimed: list[AuditItem] = []
        candidates = pending_audits(self._engine, limit=min(500, free + len(self._skip)))
        with self._engine.begin() as conn:
            for item in candidates:
                if len(claimed) >= free:
                    break
                if item.decision_id in self._skip:
                    continue
                if (
                    item.request_text is None
                    or item.answer_text is None
                    or judge_model(self._settings, item.route) is None
                ):
                    self._skip.add(item.decision_id)  # nothing to judge from (text expired, route gone)
                    continue
                won = conn.execute(
                    sa.update(audit_samples)
                    .where(audit_samples.c.decision_id == item.decision_id, audit_samples.c.status == PENDING)
                    .values(status=JUDGING)
                ).rowcount
                if won == 1:
                    claimed.append(item)
        return claimed

    def _release(self, decision_id: str) -> None:
        import sqlalchemy as sa

        from tiered.store.schema import audit_samples

        with self._engine.begin() as conn:
            conn.execute(
                sa.update(audit_samples)
                .where(audit_samples.c.decision_id == decision_id, audit_samples.c.status == JUDGING)
                .values(status=PENDING)
            )

    # -- event loop side --------------------------------------------------------------------------------

    async def _judge(self, item: AuditItem) -> None:
        from .grading import grade_decision

        try:
            model = judge_model(self._settings, item.route)
            assert model is not None and item.request_text is not None and item.answer_text is not None
            tier = TierSettings(model=model)
            provider = self._router.upstreams.provider(tier.provider)
            body = judge_request(
                tier.model_id,
                parse_request_text(item.request_text),
                item.answer_text,
                max_tokens=self._settings.judge.max_tokens,
            )
            response = await provider.send(body)
            cost = self._router.prices.cost(model, TokenUsage.from_anthropic(response.body.get("usage")))
            try:
                verdict = parse_verdict(response.body)
            except JudgeOutputError:
                if cost:
                    self._unrecorded.append((time.monotonic(), cost))
                self._add_cost(cost)
                raise
            route = self._settings.routes.get(item.route)
            weight = pick_weight(route, item.probability) if route and item.probability else 1.0
            record = await anyio.to_thread.run_sync(
                lambda: grade_decision(
                    self._engine,
                    self._settings,
                    item.decision_id,
                    verdict.verdict,
                    GraderKind.JUDGE,
                    grader=f"judge:{model}",
                    reason=verdict.reason,
                    cost_usd=cost,
                    weight=weight,
                )
            )
            self.graded += 1
            self._count("graded")
            self._add_cost(cost)
            if self._metrics is not None:
                self._metrics.observe_grade(item.route, record.verdict.value, record.grader_kind.value)
        except Exception as exc:
            await self._failed(item, exc)
        except BaseException:
            # shutting down mid-call: hand the sample back for the next run (or another replica)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release, item.decision_id)
            raise
        finally:
            self._busy -= 1

    async def _failed(self, item: AuditItem, exc: Exception) -> None:
        self._count("invalid" if isinstance(exc, JudgeOutputError) else "error")
        tries = self._attempts.get(item.decision_id, 0) + 1
        self._attempts[item.decision_id] = tries
        if tries >= self._settings.judge.max_attempts:
            self._skip.add(item.decision_id)
            self._attempts.pop(item.decision_id, None)
            log.warning("the judge gave up on %s after %d attempts: %s", item.decision_id, tries, exc)
        else:
            log.info("the judge failed on %s (attempt %d): %s", item.decision_id, tries, exc)
        try:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release, item.decision_id)
        except Exception:
            log.exception("could not release the judge's claim on %s", item.decision_id)

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.judge_calls.labels(result=result).inc()

    def _add_cost(self, cost: float | None) -> None:
        if self._metrics is not None and cost:
            self._metrics.judge_cost.inc(cost)
