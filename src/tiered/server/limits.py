"""Admission control: in-flight caps, and per-key rate limits and spend budgets.

- **In flight.** At most ``server.max_inflight`` requests are open at once (past it: 529
  ``overloaded_error``), and at most ``server.max_inflight_per_key`` for one key (past it: 429
  ``rate_limit_error``), each with ``retry-after``: a fast refusal rather than a pile-up.
- **Rate limits and budgets** (virtual keys made with ``--rpm`` / ``--budget``). They hold across replicas
  because each replica counts its own traffic exactly, in memory, and the other replicas' traffic from the
  shared decision store (decisions carry the replica that made them): the requests a key made in the last
  minute and what it spent since the start of its budget period (UTC day or month). The store's counts are
  refreshed every ``REFRESH_S`` seconds off the request path, and before admitting a request once a key is past
  half of a limit. So a fleet can overshoot a limit only by what other replicas admitted within the store's
  write lag (the decision writer's batching, typically well under a second). After a restart, a replica's
  earlier traffic is in the store under its old name and counts as another replica's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..errors import OverloadedError
from .auth import KeyLimits, Principal

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Admission", "Ticket", "period_start", "store_counter"]

log = logging.getLogger("tiered.server")
REFRESH_S = 2.0


@dataclass(frozen=True, slots=True)
class Ticket:
    key: str | None


def period_start(period: str | None, now: datetime) -> datetime:
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


Counter = Callable[[str, datetime, datetime], tuple[int, float]]
"""(key id, one minute ago, period start) -> the OTHER replicas' (requests in the last minute, spend since
period start)."""


@dataclass(slots=True)
class _KeyState:
    db_requests: int = 0
    db_spend: float = 0.0
    refreshed_at: float = -1.0
    refreshing: bool = False
    local: deque[float] = field(default_factory=deque)  # this replica's admissions in the last minute
    own_spend: float = 0.0  # this replica's spend in the current period
    period: datetime | None = None

    def spend(self) -> float:
        return self.db_spend + self.own_spend


class Admission:
    def __init__(
        self,
        max_inflight: int,
        max_inflight_per_key: int,
        *,
        counter: Counter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_inflight = max_inflight
        self.max_inflight_per_key = max_inflight_per_key
        self._counter = counter
        self._clock = clock
        self._open = 0
        self._open_per_key: dict[str, int] = {}
        self._keys: dict[str, _KeyState] = {}

    async def enter(self, principal: Principal) -> Ticket:
        """Admit a request or raise :class:`OverloadedError` (429/529 with ``retry_after``)."""
        key = principal.key_id
        if self._open >= self.max_inflight:
            raise OverloadedError(
                f"tiered is at its limit of {self.max_inflight} requests in flight; retry shortly", retry_after=1.0
            )
        if key is not None:
            if self._open_per_key.get(key, 0) >= self.max_inflight_per_key:
                raise OverloadedError(
                    f"this key has {self.max_inflight_per_key} requests in flight, its limit; retry shortly",
                    retry_after=1.0,
                    status=429,
                )
            limits = principal.limits
            if limits is not None and (limits.rate_limit_rpm is not None or limits.budget_usd is not None):
                await self._check_key(key, limits)
            self._open_per_key[key] = self._open_per_key.get(key, 0) + 1
        self._open += 1
        return Ticket(key)

    def leave(self, ticket: Ticket) -> None:
        self._open = max(self._open - 1, 0)
        if ticket.key is not None:
            left = self._open_per_key.get(ticket.key, 1) - 1
            if left > 0:
                self._open_per_key[ticket.key] = left
            else:
                self._open_per_key.pop(ticket.key, None)

    def spent(self, key: str | None, cost_usd: float | None) -> None:
        """Count a finished request's cost against its key until the next refresh sees it in the store."""
        if key is not None and cost_usd and key in self._keys:
            self._keys[key].own_spend += cost_usd

    async def _check_key(self, key: str, limits: KeyLimits) -> None:
        state = self._keys.setdefault(key, _KeyState())
        now = self._clock()
        if self._counter is not None:
            if state.refreshed_at < 0:
                await self._refresh(key, state, limits)  # first sight of this key: wait for real numbers
            elif now - state.refreshed_at > REFRESH_S and not state.refreshing:
                state.refreshing = True
                if _near_limit(state, limits):
                    await self._refresh(key, state, limits)  # close to the limit: decide on fresh counts
                else:
                    _spawn(self._refresh(key, state, limits))
        while state.local and now - state.local[0] > 60:
            state.local.popleft()
        if limits.rate_limit_rpm is not None and state.db_requests + len(state.local) >= limits.rate_limit_rpm:
            raise OverloadedError(
                f"this key's rate limit of {limits.rate_limit_rpm} requests per minute is reached; retry shortly",
                retry_after=max(1.0, 60 - (now - state.local[0]) if state.local else 1.0),
                status=429,
            )
        if limits.budget_usd is not None and state.spend() >= limits.budget_usd:
            period = limits.budget_period or "day"
            reset = period_start(period, datetime.now(UTC))
            raise OverloadedError(
                f"this key's budget of ${limits.budget_usd:.2f} per {period} is spent; it resets at the start of "
                f"the next {period} (UTC, after {reset:%Y-%m-%d})",
                retry_after=3600.0,
                status=429,
            )
        state.local.append(now)

    async def _refresh(self, key: str, state: _KeyState, limits: KeyLimits) -> None:
        counter = self._counter
        assert counter is not None
        now = datetime.now(UTC)
        try:
            requests, spend = await anyio.to_thread.run_sync(
                counter, key, now - _ONE_MINUTE, period_start(limits.budget_period, now)
            )
        except Exception:
            log.exception("could not refresh usage of key %s; keeping the last counts", key)
            state.refreshing = False
            return
        state.db_requests, state.db_spend = requests, spend
        period = period_start(limits.budget_period, now)
        if state.period != period:  # a new day or month: this replica's spend starts again
            state.period, state.own_spend = period, 0.0
        state.refreshed_at = self._clock()
        state.refreshing = False


def _near_limit(state: _KeyState, limits: KeyLimits) -> bool:
    """Past half of a limit, stale counts could let a request through that fresh ones would refuse."""
    if limits.rate_limit_rpm is not None and state.db_requests + len(state.local) >= limits.rate_limit_rpm / 2:
        return True
    return limits.budget_usd is not None and state.spend() >= limits.budget_usd / 2


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    """Run a refresh in the background; keep a reference so the task is not collected mid-flight."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Future[None]] = set()
_ONE_MINUTE = timedelta(minutes=1)


def store_counter(engine: Engine, replica: str) -> Counter:
    """Count a key's recent requests and period spend by replicas other than ``replica``, from the store."""

    def count(key: str, minute_ago: datetime, since: datetime) -> tuple[int, float]:
        import sqlalchemy as sa

        from ..store.schema import decisions

        others = sa.or_(decisions.c.replica.is_(None), decisions.c.replica != replica)
        with engine.connect() as conn:
            requests = conn.execute(
                sa.select(sa.func.count()).where(
                    decisions.c.key_id == key, decisions.c.created_at >= minute_ago, others
                )
            ).scalar_one()
            spend = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(decisions.c.cost_usd), 0.0)).where(
                    decisions.c.key_id == key, decisions.c.created_at >= since, others
                )
            ).scalar_one()
        return int(requests), float(spend)

    return count
