"""Running an evaluation: every item's calls, live (bounded concurrency) or through Message Batches.

:func:`run_eval` fills the cache with a reply for every call each item needs (see
:mod:`tiered.offline.eval_plan`), then builds the rows from the cache alone, so a resumed run and a fresh one
give the same rows.

* **Live**: items run concurrently (at most ``concurrency`` at a time); each walks its tiers in the cascade's
  order (triage first, the final tier last), then asks the judge, if its grader is one. Calls are retried as
  the provider's ``max_retries`` says (a tier's own ``max_retries`` wins); triage calls are retried too,
  unlike in production, where escalating beats waiting.
* **Batch** (``batch=True``): a triage batch, then a final-tier batch, then (for judge-graded items) a
  grading batch, each polled with backoff until it ends. The final batch does not depend on the triage
  results (every item needs the final tier's answer), but it is only sent once the triage batch has ended:
  a triage batch that fails (a bad request, a wrong key) stops the run before the expensive tier is paid for.

An item whose call failed, or whose judge reply is unreadable, gets no row; it is reported, and a rerun
retries just its missing calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tiered.cascade.policy import Calibrator
from tiered.config import RouteSettings, Settings, TierSettings
from tiered.errors import ConfigError, UpstreamError
from tiered.offline.eval_cache import EvalCache
from tiered.offline.eval_dataset import EvalItem
from tiered.offline.eval_plan import (
    CallReply,
    EvalOutcome,
    ItemFailure,
    PlannedCall,
    build_outcome,
    cascade_tier,
    judge_calls,
    plan_item,
    read_tiers,
)
from tiered.offline.eval_prices import EvalPricer

if TYPE_CHECKING:
    from tiered.upstreams import Upstreams

__all__ = ["EvalConfig", "EvalProgress", "EvalRun", "run_eval"]

Sleep = Callable[[float], Awaitable[None]]


class EvalProgress(Protocol):
    """Where a run reports progress (the CLI draws a Rich progress bar)."""

    def start(self, phase: str, total: int) -> None: ...

    def update(self, phase: str, completed: int, note: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """How to evaluate: the route, the judge, live or batch."""

    route_name: str
    route: RouteSettings
    judge: TierSettings
    max_tokens: int = 1024
    concurrency: int = 8
    batch: bool = False
    poll_initial_s: float = 10.0
    poll_max_s: float = 300.0


@dataclass(frozen=True, slots=True)
class EvalRun:
    """The rows of the items that completed, the items that did not, and what was spent."""

    route: str
    tiers: int
    outcomes: tuple[EvalOutcome, ...]
    failures: tuple[ItemFailure, ...]
    batch: bool
    calls_made: int  # upstream calls (or batched requests) sent by this run; cached ones are not counted

    @property
    def paid_usd(self) -> float:
        """What the tier calls behind the rows cost (at batch rates for batched calls), cached ones included."""
        return sum(o.paid_usd for o in self.outcomes)

    @property
    def grading_usd(self) -> float:
        return sum(o.grading_usd for o in self.outcomes)

    @property
    def standard_usd(self) -> float:
        """The same tier calls at standard rates."""
        return sum(sum(o.cost_usd) for o in self.outcomes)


class _NoProgress:
    def start(self, phase: str, total: int) -> None:
        return None

    def update(self, phase: str, completed: int, note: str = "") -> None:
        return None


async def run_eval(
    items: Sequence[EvalItem],
    settings: Settings,
    config: EvalConfig,
    cache: EvalCache,
    *,
    pricer: EvalPricer | None = None,
    progress: EvalProgress | None = None,
    upstreams: Upstreams | None = None,
    sleep: Sleep | None = None,
) -> EvalRun:
    """Evaluate ``items`` on ``config.route``; replies are read from and written to ``cache``."""
    import anyio

    from tiered.pricing import default_price_book

    pricer = pricer or EvalPricer(default_price_book())
    progress = progress or _NoProgress()
    models = [tier.model for tier in config.route.tiers]
    if any(item.grader == "judge" for item in items):
        models.append(config.judge.model)
    unpriced = sorted({m for m in models if not pricer.known(m)})
    if unpriced:
        raise ConfigError(
            f"genai-prices has no price for {', '.join(unpriced)}; tiered eval writes costs, so every tier (and "
            "the judge) needs a priced model"
        )
    plans = {item.id: plan_item(item, config.route, max_tokens=config.max_tokens) for item in items}
    failures: dict[str, str] = {}
    before = len(cache)
    if config.batch:
        await _fill_batch(items, plans, settings, config, cache, pricer, progress, failures, sleep or anyio.sleep)
    else:
        await _fill_live(items, plans, settings, config, cache, pricer, progress, failures, upstreams)
    outcomes, incomplete = _assemble(items, plans, config, cache, pricer, failures)
    return EvalRun(
        route=config.route_name,
        tiers=len(config.route.tiers),
        outcomes=tuple(outcomes),
        failures=tuple(incomplete),
        batch=config.batch,
        calls_made=len(cache) - before + len(failures),
    )


async def _send_cached(call: PlannedCall, links: Upstreams, config: EvalConfig, cache: EvalCache) -> CallReply:
    """The reply to ``call``: from the cache, else from its tier's upstream (then cached)."""
    cached = cache.get(call.key)
    if cached is not None:
        return cached
    tier_retries = config.route.tiers[call.tier].max_retries if call.tier is not None else None
    provider = links.provider(call.provider, retries=tier_retries)
    response = await provider.send(call.body)
    reply = CallReply(response.body)
    cache.put(call.key, reply)
    return reply


async def _fill_live(
    items: Sequence[EvalItem],
    plans: Mapping[str, tuple[PlannedCall, ...]],
    settings: Settings,
    config: EvalConfig,
    cache: EvalCache,
    pricer: EvalPricer,
    progress: EvalProgress,
    failures: dict[str, str],
    upstreams: Upstreams | None,
) -> None:
    import anyio

    from tiered.upstreams import Upstreams

    owned = upstreams is None
    links = upstreams if upstreams is not None else Upstreams(settings)
    done = 0
    progress.start("items", len(items))

    async def one(item: EvalItem) -> None:
        nonlocal done
        calls = plans[item.id]
        current = calls[0]
        try:
            replies: dict[str, CallReply] = {}
            for current in calls:
                replies[current.key] = await _send_cached(current, links, config, cache)
            answers = read_tiers(calls, replies, pricer)
            for current in judge_calls(item, answers, config.judge).values():
                await _send_cached(current, links, config, cache)
        except UpstreamError as exc:
            failures[current.key] = exc.message
        done += 1
        progress.update("items", done)

    queue = iter(items)

    async def worker() -> None:
        # A fixed pool of workers pulling items, not a task per item: a large dataset costs no memory upfront.
        for item in queue:
            await one(item)

    try:
        async with anyio.create_task_group() as group:
            for _ in range(min(config.concurrency, len(items))):
                group.start_soon(worker)
    finally:
        if owned:
            await links.aclose()


async def _fill_batch(
    items: Sequence[EvalItem],
    plans: Mapping[str, tuple[PlannedCall, ...]],
    settings: Settings,
    config: EvalConfig,
    cache: EvalCache,
    pricer: EvalPricer,
    progress: EvalProgress,
    failures: dict[str, str],
    sleep: Sleep,
) -> None:
    from tiered.offline.batches import BatchClient, PollSchedule, run_phase

    providers = {tier.provider for tier in config.route.tiers}
    if any(item.grader == "judge" for item in items):
        providers.add(config.judge.provider)
    clients = {name: BatchClient(name, settings.provider(name)) for name in sorted(providers)}
    poll = PollSchedule(initial_s=config.poll_initial_s, max_s=config.poll_max_s)

    async def phase(name: str, calls: list[PlannedCall]) -> None:
        todo = len({c.key for c in calls if c.key not in cache})
        progress.start(name, todo)
        if todo:
            failures.update(
                await run_phase(
                    name,
                    calls,
                    cache,
                    clients,
                    sleep=sleep,
                    poll=poll,
                    progress=lambda completed, note: progress.update(name, completed, note),
                )
            )
        progress.update(name, todo)

    try:
        every = [call for item in items for call in plans[item.id]]
        await phase("triage", [c for c in every if c.kind == "triage"])
        await phase("final", [c for c in every if c.kind == "final"])
        judges: list[PlannedCall] = []
        replies = cache.replies()
        for item in items:
            calls = plans[item.id]
            if item.grader == "judge" and all(c.key in replies for c in calls):
                judges += judge_calls(item, read_tiers(calls, replies, pricer), config.judge).values()
        if judges:
            await phase("grading", judges)
    finally:
        for client in clients.values():
            await client.aclose()


def _assemble(
    items: Sequence[EvalItem],
    plans: Mapping[str, tuple[PlannedCall, ...]],
    config: EvalConfig,
    cache: EvalCache,
    pricer: EvalPricer,
    failures: Mapping[str, str],
) -> tuple[list[EvalOutcome], list[ItemFailure]]:
    calibrators = _calibrators(config.route)
    replies = cache.replies()
    outcomes: list[EvalOutcome] = []
    incomplete: list[ItemFailure] = []
    for item in items:
        calls = plans[item.id]
        missing = next((c for c in calls if c.key not in replies), None)
        if missing is not None:
            incomplete.append(ItemFailure(item.id, _why(missing, failures)))
            continue
        answers = read_tiers(calls, replies, pricer)
        judges = judge_calls(item, answers, config.judge)
        missing = next((c for c in judges.values() if c.key not in replies), None)
        if missing is not None:
            incomplete.append(ItemFailure(item.id, _why(missing, failures)))
            continue
        at = cascade_tier(item, config.route, answers, max_tokens=config.max_tokens, calibrators=calibrators)
        row = build_outcome(item, answers, judges, replies, pricer, cascade_at=at)
        if isinstance(row, ItemFailure):
            incomplete.append(row)
        else:
            outcomes.append(row)
    return outcomes, incomplete


def _why(call: PlannedCall, failures: Mapping[str, str]) -> str:
    what = "the judge call" if call.kind == "judge" else f"the {call.kind} call to tier {call.tier} ({call.model})"
    return f"{what} failed: {failures.get(call.key, 'no reply')}"


def _calibrators(route: RouteSettings) -> dict[int, Calibrator]:
    from tiered.offline.calibration_map import load_calibration

    out: dict[int, Calibrator] = {}
    for tier in range(len(route.tiers)):
        path = route.calibration_for(tier)
        if path is not None:
            out[tier] = load_calibration(path)
    return out
