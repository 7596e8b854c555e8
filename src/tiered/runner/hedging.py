"""Hedged escalation for JSON requests (``RouteSettings.hedge_after_ms``).

The last triage before the final tier runs alone for ``hedge_after_ms``. If it has not answered by then, the
final tier's call (the original request, replayed) starts in parallel, and the first to decide wins:

- the triage answers first: its verdict is judged as usual. *Ship*: the final call is cancelled.
  *Escalate*: the final call, already under way, is the answer (the hedge saved the triage's latency);
- the final tier answers first: the triage is cancelled and the final answer ships (reason ``policy``);
- the final call fails first: the triage is awaited; if it escalates, the cascade sees the final failure (and
  may degrade).

Both calls are recorded. A cancelled call reports no usage, so its cost is estimated from the other call's
input tokens (the triage instruction added or removed) and no output: a lower bound, noted on the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..accounting import INSTRUCTION_TOKENS
from ..decision import AttemptRole, TokenUsage

if TYPE_CHECKING:
    from ..errors import TieredError
    from .attempts import PendingAttempt

__all__ = ["HedgeLeg", "estimate_cancelled", "race"]

Send = Callable[[], Awaitable["TieredError | None"]]


@dataclass(slots=True)
class HedgeLeg:
    """The final call started early; ``task`` gives its error (``None``: it answered)."""

    pending: PendingAttempt
    task: asyncio.Future[TieredError | None]

    async def result(self) -> TieredError | None:
        return await self.task

    async def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.pending.cancelled = True


async def race(
    triage: Send, hedge_after_s: float, start_final: Callable[[], tuple[PendingAttempt, Send]]
) -> tuple[TieredError | None, HedgeLeg | None, bool]:
    """Run the triage, hedged. Returns (triage error, the final leg if one started, whether the triage was
    cancelled because the final tier answered first)."""
    triage_task: asyncio.Future[TieredError | None] = asyncio.ensure_future(triage())
    leg: HedgeLeg | None = None
    try:
        done, _ = await asyncio.wait({triage_task}, timeout=hedge_after_s)
        if done:
            return triage_task.result(), None, False
        pending, send = start_final()
        leg = HedgeLeg(pending, asyncio.ensure_future(send()))
        done, _ = await asyncio.wait({triage_task, leg.task}, return_when=asyncio.FIRST_COMPLETED)
        if triage_task in done:
            return triage_task.result(), leg, False
        if leg.task.result() is not None:  # the final call failed first: the triage still decides
            return await triage_task, leg, False
        triage_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await triage_task
        return None, leg, True
    except BaseException:
        for task in (triage_task, leg.task if leg is not None else None):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        raise


def estimate_cancelled(cancelled: PendingAttempt, other: PendingAttempt) -> None:
    """Give a cancelled call the input tokens the other call reported (its cost is then a lower bound)."""
    if cancelled.usage != TokenUsage():
        return
    usage = other.usage
    if usage == TokenUsage():
        return
    shift = INSTRUCTION_TOKENS if cancelled.call.role is AttemptRole.TRIAGE else -INSTRUCTION_TOKENS
    cancelled.usage = TokenUsage(
        input_tokens=max(usage.input_tokens + shift, 0),
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_creation_1h_input_tokens=usage.cache_creation_1h_input_tokens,
    )
    cancelled.usage_estimated = True
    cancelled.error = "cancelled: lost the hedge (cost estimated from input tokens, a lower bound)"
