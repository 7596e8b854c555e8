"""Making the cascade's calls: one path for every call, streamed or whole, hedged or not.

A :class:`Leg` is one upstream call being made. :class:`Calls` opens it: the circuit breaker (a triage whose
tier's circuit is open is skipped), the in-flight cap of its provider, then the provider itself. A triage is
streamed and read up to its decision (:func:`~tiered.runner.triage_read.read_triage_events`), and to its end when
a JSON answer may ship (a JSON reply can still escalate once read whole; a stream ships as it reads). A final
call is streamed up to its first event, or, for a JSON response (``collect``), sent and read whole.

Hedging (``RouteSettings.hedge_after_ms``): the last triage before the final tier runs alone for that long; then
the final call starts too, and the first to decide wins. The triage answers first: it is judged as usual (ship:
the final call is cancelled; escalate: the final call already under way is the answer). The final tier answers
first: the triage is cancelled (reason ``policy``). The final call fails first: the triage still decides. Both
calls are recorded; a cancelled one reports no usage, so its cost is estimated from the other's input tokens
(:func:`~tiered.runner.hedging.estimate_cancelled`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..cascade.policy import Call, TriageRead, final_call, judge, read_triage_response
from ..cascade.stream_parse import TriageStreamParser
from ..decision import AttemptRole
from ..errors import OverloadedError, TieredError, UpstreamError
from .attempts import PendingAttempt
from .hedging import estimate_cancelled
from .triage_read import TriageState, message_of, note_triage_usage, read_triage_events, read_triage_to_end

if TYPE_CHECKING:
    from ..config import RouteSettings
    from ..providers.base import Provider, ProviderStream, StreamEvent
    from .deps import Deps
    from .recording import Recorder

__all__ = ["Calls", "Leg", "cancel", "explored"]


@dataclass(slots=True)
class Leg:
    """One upstream call being made: its call, record, exit stack and what was read so far."""

    call: Call
    pending: PendingAttempt
    started: float
    triage: bool  # a triage call (else the final tier's, answering directly)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    state: TriageState | None = None  # a streamed triage's reading
    events: AsyncIterator[StreamEvent] | None = None
    source: ProviderStream | None = None
    buffered: list[StreamEvent] = field(default_factory=list)
    read: TriageRead | None = None
    error: TieredError | None = None
    task: asyncio.Future[Leg] | None = None
    held: bool = False  # a triage's stream stays open on ``stack`` once read (always, but for a JSON response)

    async def wait(self) -> Leg:
        if self.task is not None:
            await self.task
        return self

    async def close(self, clock_now: float, lost_to: PendingAttempt | None = None) -> None:
        """Cancel and close this call (it lost a hedge); estimate its cost from the winner's input."""
        if self.task is not None:
            await cancel(self.task)
        with anyio.CancelScope(shield=True):
            await self.stack.aclose()
        self.pending.cancelled = True
        self.pending.latency_ms = (clock_now - self.started) * 1000
        if self.state is not None:
            note_triage_usage(self.pending, self.state)
        if lost_to is not None:
            estimate_cancelled(self.pending, lost_to)


async def cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def explored(deps: Deps, leg: Leg, decision_id: str, route_name: str, route: RouteSettings) -> bool:
    """Hand an escalated first-tier triage, its stream still open, to the explorer when it is picked (it reads
    it to its end in background and closes it: :mod:`tiered.quality.explore`); ``False`` when the stream is to
    be cut by the caller. A JSON run holds its triage's stream open only when it was picked when opened."""
    explorer, state = deps.explorer, leg.state
    if explorer is None or state is None or state.finished or not leg.held or leg.error is not None or leg.call.tier:
        return False
    if not explorer.wants(decision_id, route_name, route):
        return False
    explorer.adopt(decision_id, route_name, leg)
    return True


def _failed(leg: Leg, exc: UpstreamError) -> None:
    pending = leg.pending
    pending.error, pending.status, pending.request_id = str(exc), exc.status, exc.request_id
    leg.error = exc


class Calls:
    """Opens the legs of one request (see the module's docstring)."""

    def __init__(
        self,
        deps: Deps,
        route: RouteSettings,
        request: dict[str, Any],
        headers: Mapping[str, str] | None,
        recorder: Recorder,
        *,
        collect: bool,
    ) -> None:
        self.deps = deps
        self.route = route
        self.request = request
        self.headers = headers
        self.recorder = recorder
        self.collect = collect

    def leg(self, call: Call) -> Leg:
        triage = call.role is AttemptRole.TRIAGE
        leg = Leg(call, self.recorder.add(call), self.deps.clock(), triage)
        if triage and (self.route.stream_triage or not self.collect):
            leg.state = TriageState(TriageStreamParser(structured_answer=call.structured_answer))
        return leg

    async def open_hedged(self, leg: Leg) -> tuple[Leg | None, bool]:
        """Open a hedged triage. Returns (the final call's leg if it started, whether the triage was cancelled
        because the final tier won)."""
        delay = (self.route.hedge_after_ms or 0) / 1000
        triage = asyncio.ensure_future(self.open(leg))
        hedge: Leg | None = None
        try:
            done, _ = await asyncio.wait({triage}, timeout=delay)
            if done:
                triage.result()
                return None, False
            hedge = self.leg(final_call(self.request, self.route))
            hedge.task = asyncio.ensure_future(self.open(hedge, until_content=True))
            done, _ = await asyncio.wait({triage, hedge.task}, return_when=asyncio.FIRST_COMPLETED)
            if triage in done:
                triage.result()
                return hedge, False
            await hedge.wait()
            if hedge.error is not None:  # the final call failed first: the triage still decides
                await triage
                return hedge, False
            await cancel(triage)
            await leg.close(self.deps.clock(), lost_to=hedge.pending)
            return hedge, True
        except BaseException:
            await cancel(triage)
            if hedge is not None:
                await hedge.close(self.deps.clock())
            raise

    async def open(self, leg: Leg, *, until_content: bool = False) -> Leg:
        """Make ``leg``'s call up to what decides it (see the module's docstring); ``until_content``: a streamed
        final call is read up to its first content. Sets ``leg.error`` on failure; a stream stays open on
        ``leg.stack``."""
        call, pending = leg.call, leg.pending
        tier = self.route.tiers[call.tier]
        breaker, caps = self.deps.breaker, self.deps.caps
        if leg.triage and not breaker.allow(tier.model):
            pending.skipped = True
            pending.error = f"triage skipped: the circuit for {tier.model} is open after repeated upstream errors"
            leg.error = UpstreamError(pending.error, model=tier.model)
            return leg
        try:
            caps.acquire(tier.provider)
        except OverloadedError as exc:
            pending.error, pending.status = exc.message, exc.status
            leg.error = exc
            return leg
        provider = self.deps.providers.for_tier(tier, triage=leg.triage)
        try:
            if self.collect:  # read whole (or up to an escalation): nothing stays open
                try:
                    await (self._triage(leg, provider) if leg.state is not None else self._whole(leg, provider))
                finally:
                    caps.release(tier.provider)
            else:
                leg.stack.callback(caps.release, tier.provider)
                await (
                    self._triage(leg, provider)
                    if leg.state is not None
                    else self._first_events(leg, provider, until_content)
                )
        except UpstreamError as exc:
            _failed(leg, exc)
        except StopAsyncIteration:
            leg.error = UpstreamError("the upstream stream ended before it started", model=call.model)
            pending.error = leg.error.message
            return leg
        if leg.triage:
            breaker.record_outcome(tier.model, leg.error)
        return leg

    async def _triage(self, leg: Leg, provider: Provider) -> None:
        """A triage, streamed: read up to the decision; a JSON answer that may ship is read to its end (a
        route that may degrade to the cheap answer needs it whole too) and the stream closed at once."""
        explorer = self.deps.explorer
        if not self.collect or (
            explorer is not None
            and leg.call.tier == 0
            and explorer.wants(self.recorder.id, self.recorder.route_name, self.route)
        ):  # held open: relayed if it ships, or (picked for exploration) read on in background if not
            leg.held = True
            stream = await leg.stack.enter_async_context(provider.stream(leg.call.body, headers=self.headers))
            await self._read_triage(leg, stream)
            if self.collect and leg.state is not None and leg.state.finished:  # read whole: nothing to explore
                await leg.stack.aclose()
            return
        async with provider.stream(leg.call.body, headers=self.headers) as stream:
            await self._read_triage(leg, stream)

    async def _read_triage(self, leg: Leg, stream: ProviderStream) -> None:
        call, pending, state = leg.call, leg.pending, leg.state
        assert state is not None
        pending.request_id, pending.status = stream.request_id, 200
        leg.source, leg.events = stream, aiter(stream)
        calibrate = call.calibrate
        # a JSON reply takes events that arrived together in one pass (what follows the decision is left in
        # state.unread for read_triage_to_end); a shipped stream relays the events after the decision itself
        batched = stream if self.collect else None
        leg.read = await read_triage_events(leg.events, call, pending, state, leg.started, calibrate, batched)
        if not self.collect or state.finished:
            return
        threshold = call.threshold if call.threshold is not None else 1.0
        if self.route.degrade_to_cheap or judge(leg.read, threshold, calibrate).ship:
            try:
                leg.read = await read_triage_to_end(leg.events, call, pending, state, stream)
            finally:  # its usage, known now (a hedge that loses to it is estimated from it)
                note_triage_usage(pending, state)
                pending.stream_aborted = not state.finished
                pending.body = message_of(state)

    async def _whole(self, leg: Leg, provider: Provider) -> None:
        """A call sent and read whole (a JSON response's final call, or its triage with ``stream_triage``
        off)."""
        call, pending = leg.call, leg.pending
        try:
            response = await provider.send(call.body, headers=self.headers)
        finally:
            pending.latency_ms = (self.deps.clock() - leg.started) * 1000
        pending.body, pending.request_id, pending.status = response.body, response.request_id, response.status
        pending.note_usage(response.body.get("usage"))
        stop_reason = response.body.get("stop_reason")
        pending.stop_reason = stop_reason if isinstance(stop_reason, str) else None
        if leg.triage:
            leg.read = read_triage_response(response.body, structured_answer=call.structured_answer)

    async def _first_events(self, leg: Leg, provider: Provider, until_content: bool) -> None:
        """A final call, streamed: its first event proves it started (a failure before it is still a clean
        error), or with ``until_content`` its first content."""
        pending = leg.pending
        stream: ProviderStream = await leg.stack.enter_async_context(
            provider.stream(leg.call.body, headers=self.headers)
        )
        pending.request_id, pending.status = stream.request_id, 200
        leg.source, leg.events = stream, aiter(stream)
        while True:
            event = await anext(leg.events)
            leg.buffered.append(event)
            if event.event == "message_start":
                message = event.json().get("message") or {}
                # what a stream cut before its relay starts has reported (see RelayedUsage)
                pending.note_usage(message.get("usage"), complete=False)
            if not until_content or event.event in ("content_block_delta", "message_stop"):
                break
