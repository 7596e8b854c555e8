"""Routing a request as a stream, with early abort.

A triage call is streamed and read as it arrives (:class:`~tiered.cascade.stream_parse.TriageStreamParser`). The
moment the decision is known (:func:`~tiered.cascade.policy.early_read`):

- **ship**: the answer is streamed to the client as Anthropic SSE text deltas while the cheap model is still
  writing it, decoded from the JSON string on the fly. Nothing is sent before the decision, so the client never
  sees a draft that is later withdrawn;
- **escalate**: the triage stream is closed at once (tiered neither waits for nor pays for the rest of it) and
  the next tier is called; the final tier's stream is relayed to the client event by event, byte for byte.

Usage: ``head = await routed.start()`` runs the cascade until the answer's source is known and returns what the
response headers need (it raises :class:`~tiered.errors.UpstreamError` when no tier could start answering, so
the caller can still send a proper error status); then ``async for chunk in routed`` yields SSE bytes.
``aclose()`` ends it early (a client that went away): open upstream calls are closed and the decision records
the cancellation. The decision is emitted exactly once, when the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Generator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from .cascade.betas import betas_of
from .cascade.policy import Call, Reply, Step, TriageRead, cascade, final_call, hedges
from .cascade.stop_sequences import StopCutter, stop_sequences_of
from .cascade.stream_parse import TriageStreamParser
from .decision import AttemptRole, Decision, EscalationReason
from .errors import OverloadedError, TieredError, UpstreamError
from .health import rejected_by_upstream
from .hedging import estimate_cancelled
from .providers.base import StreamEvent, predecode, ready_events
from .recording import PendingAttempt, Recorder, RelayedUsage, cancelled_error
from .sse_events import (
    block_start,
    delta_chars,
    error_event,
    joined_text_deltas,
    merge_usage,
    message_end,
    sse,
    text_delta,
    whole_message,
)
from .triage_stream import TriageState, deltas_text, note_triage_usage, read_triage_events

if TYPE_CHECKING:
    from .config import RouteSettings
    from .providers.base import ProviderStream
    from .router import Router

__all__ = ["FinalChunk", "RoutedStream", "StreamHead"]

_END_EVENTS = frozenset({"message_stop", "error"})


class FinalChunk(bytes):
    """The last bytes of a stream's answer (they end with ``message_stop`` or an ``error`` event).

    A server can end the response with them at once (the chunk and the end of the body in one write) and let the
    stream's own end, recording the decision and closing the upstream, run after the client has everything."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class StreamHead:
    """What is known when the answer starts: enough for the response headers."""

    decision_id: str
    route: str
    model: str
    escalated: bool
    confidence: float | None
    reason: EscalationReason | None
    degraded: bool = False
    reason_detail: str | None = None  # for reason ``capability``: the feature and the model


class RoutedStream:
    def __init__(
        self,
        router: Router,
        request: dict[str, Any],
        route_name: str,
        route: RouteSettings,
        *,
        headers: Mapping[str, str] | None,
        key_id: str | None,
        passthrough: bool = False,
    ) -> None:
        self._router = router
        self._request = {k: v for k, v in request.items() if k != "stream"}
        self._route_name = route_name
        self._route = route
        self._headers = headers
        self._passthrough = passthrough
        self._recorder: Recorder = Recorder(
            router, self._request, route_name, route, stream=True, key_id=key_id, passthrough=passthrough
        )
        self._stack = AsyncExitStack()
        self._events: AsyncIterator[StreamEvent] | None = None
        self._buffered: list[StreamEvent] = []
        self._source: ProviderStream | None = None
        self._triage_confidence: float | None = None  # the last triage's, for the headers of an escalation
        self._pending: PendingAttempt | None = None
        self._call: Call | None = None
        self._step: Step | None = None
        self._plan: Generator[Call, Reply, Step] | None = None
        self._state: TriageState | None = None
        self._answer_parts: list[str] = []
        self._relayed: RelayedUsage | None = None  # what the relayed stream reported and relayed so far
        self._queued = 0  # events of the batch being relayed, not yet yielded
        self._degraded: str | None = None
        self._started_at = 0.0
        self.head: StreamHead | None = None
        self.decision: Decision | None = None
        self._closed = False

    # -- the cascade up to the first byte ------------------------------------------------------------------

    async def start(self) -> StreamHead:
        route = self._route
        calibrators = {} if self._passthrough else self._router.calibrators(route)
        plan = cascade(self._request, route, calibrators, betas_of(self._headers))
        self._plan = plan
        call = next(plan)
        hedge: _Leg | None = None
        while True:
            cancelled = False
            if hedge is not None and call.role is AttemptRole.FINAL:
                leg, hedge = await hedge.wait(), None  # the hedge already made this call
            else:
                leg = _Leg(call, self._recorder.add(call))
                if call.role is AttemptRole.TRIAGE:
                    leg.state = TriageState(TriageStreamParser(structured_answer=call.structured_answer))
                try:
                    if hedges(call, route):
                        hedge, cancelled = await self._open_hedged(leg)
                    else:
                        await self._open(leg)
                except BaseException:
                    await self._abandon(leg, hedge)
                    raise
            pending, error = leg.pending, leg.error
            pending.read = leg.read
            if error is None and leg.state is None:
                return self._relay_head(leg, call.reason, call.detail)
            try:
                call = plan.send(Reply(leg.read, error is not None, rejected_by_upstream(error), cancelled=cancelled))
            except StopIteration as stop:
                step: Step = stop.value
                self._step = step
                if hedge is not None:  # the triage decided first: the hedge lost
                    await hedge.close(lost_to=pending)
                    hedge = None
                if step.kind == "ship" and leg.state is not None and leg.events is not None:
                    self._adopt(leg)
                    self._state = leg.state
                    confidence = leg.read.confidence if leg.read is not None else None
                    self.head = StreamHead(self._recorder.id, self._route_name, leg.call.model, False, confidence, None)
                    return self.head
                await leg.stack.aclose()
                if step.kind == "degraded":
                    return await self._degrade(step, pending, leg.started)
                failure = error or UpstreamError("no tier answered")
                pending.latency_ms = (time.perf_counter() - leg.started) * 1000
                self.decision = self._recorder.finish(step, pending, None, failure)
                raise failure from None
            # escalate: stop reading the triage at once
            if leg.read is not None and leg.read.confidence is not None:
                self._triage_confidence = leg.read.confidence
            if leg.state is not None and not cancelled:
                pending.stream_aborted = not leg.state.finished and error is None
                note_triage_usage(pending, leg.state)
            await leg.stack.aclose()
            pending.latency_ms = (time.perf_counter() - leg.started) * 1000

    def _adopt(self, leg: _Leg) -> None:
        """``leg`` answers: its stream and exit stack become this stream's."""
        self._stack, self._events, self._pending, self._call = leg.stack, leg.events, leg.pending, leg.call
        self._source = leg.source
        self._buffered = leg.buffered
        self._started_at = leg.started

    def _relay_head(self, leg: _Leg, reason: EscalationReason | None, detail: str | None = None) -> StreamHead:
        """``reason``: why the cascade got to this call (from the call the cascade made, not the hedge's)."""
        self._adopt(leg)
        escalated = leg.pending is not self._recorder.pending[0]
        confidence = self._triage_confidence if escalated else None
        self.head = StreamHead(
            self._recorder.id, self._route_name, leg.call.model, escalated, confidence, reason, reason_detail=detail
        )
        return self.head

    async def _abandon(self, leg: _Leg, hedge: _Leg | None) -> None:
        """The request was cancelled while a call was open: close everything and record it."""
        leg.pending.cancelled = True
        leg.pending.latency_ms = (time.perf_counter() - leg.started) * 1000
        if leg.state is not None:
            self._router.breaker.release_probe(self._route.tiers[leg.call.tier].model)
        with anyio.CancelScope(shield=True):
            await leg.stack.aclose()
            if hedge is not None:
                await hedge.close()
            await self._stack.aclose()
        self.decision = self._recorder.finish(None, None, None, cancelled_error())

    async def _open_hedged(self, leg: _Leg) -> tuple[_Leg | None, bool]:
        """Open a hedged triage (see ``RouteSettings.hedge_after_ms``): after the delay the final call starts
        too; it wins if its first content arrives before the triage decides. Returns (the final call's leg if
        it started, whether the triage was cancelled because the final tier won)."""
        delay = (self._route.hedge_after_ms or 0) / 1000
        triage = asyncio.ensure_future(self._open(leg))
        hedge: _Leg | None = None
        try:
            done, _ = await asyncio.wait({triage}, timeout=delay)
            if done:
                triage.result()
                return None, False
            final = final_call(self._request, self._route)
            hedge = _Leg(final, self._recorder.add(final))
            hedge.task = asyncio.ensure_future(self._open(hedge, until_content=True))
            done, _ = await asyncio.wait({triage, hedge.task}, return_when=asyncio.FIRST_COMPLETED)
            if triage in done:
                triage.result()
                return hedge, False
            await hedge.wait()
            if hedge.error is not None:  # the final call failed first: the triage still decides
                await triage
                return hedge, False
            await _cancel(triage)
            await leg.close(lost_to=hedge.pending)
            return hedge, True
        except BaseException:
            await _cancel(triage)
            if hedge is not None:
                await hedge.close()
            raise

    async def _open(self, leg: _Leg, *, until_content: bool = False) -> _Leg:
        """Open one upstream stream and read it up to the decision (triage), or its first event (final;
        ``until_content``: its first content). Sets ``leg.error`` on failure; the stream stays open on
        ``leg.stack``."""
        call, pending, state, stack = leg.call, leg.pending, leg.state, leg.stack
        tier = self._route.tiers[call.tier]
        breaker = self._router.breaker
        if state is not None and not breaker.allow(tier.model):
            pending.skipped = True
            pending.error = f"triage skipped: the circuit for {tier.model} is open after repeated upstream errors"
            leg.error = UpstreamError(pending.error, model=tier.model)
            return leg
        try:
            self._router.caps.acquire(tier.provider)
        except OverloadedError as exc:
            pending.error, pending.status = exc.message, exc.status
            leg.error = exc
            return leg
        stack.callback(self._router.caps.release, tier.provider)
        provider = self._router.upstreams.for_tier(tier, triage=state is not None)
        try:
            stream: ProviderStream = await stack.enter_async_context(provider.stream(call.body, headers=self._headers))
            pending.request_id = stream.request_id
            pending.status = 200
            leg.source = stream
            leg.events = aiter(stream)
            if state is not None:
                leg.read = await read_triage_events(
                    leg.events,
                    call,
                    pending,
                    state,
                    leg.started,
                    call.scorer or self._router.calibrate_for(self._route, call.tier),  # confidence hook (#21)
                )
            else:
                # the first event proves the stream started; a failure before it is still a clean error
                while True:
                    event = await anext(leg.events)
                    leg.buffered.append(event)
                    if event.event == "message_start":
                        message = event.json().get("message") or {}
                        # what a stream cut before its relay starts has reported (see RelayedUsage)
                        pending.note_usage(message.get("usage"), complete=False)
                    if not until_content or event.event in ("content_block_delta", "message_stop"):
                        break
        except UpstreamError as exc:
            pending.error, pending.status, pending.request_id = str(exc), exc.status, exc.request_id
            if state is not None:
                breaker.record_outcome(tier.model, exc)
            leg.error = exc
            return leg
        except StopAsyncIteration:
            leg.error = UpstreamError("the upstream stream ended before it started", model=call.model)
            pending.error = leg.error.message
            return leg
        if state is not None:
            breaker.record_outcome(tier.model, None)
        return leg

    async def _degrade(self, step: Step, failed: PendingAttempt, started: float) -> StreamHead:
        """The final tier failed before its first byte; ship the best cheap answer read whole."""
        failed.latency_ms = (time.perf_counter() - started) * 1000
        await self._stack.aclose()
        source = self._recorder.triage_attempt(step.tier)
        assert source.read is not None and source.read.answer is not None
        self._pending, self._call, self._degraded = source, source.call, source.read.answer
        self._started_at = time.perf_counter()
        confidence = source.read.confidence
        self.head = StreamHead(
            self._recorder.id, self._route_name, source.call.model, True, confidence, step.reason, degraded=True
        )
        return self.head

    # -- the body -------------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._bytes()

    async def _bytes(self) -> AsyncIterator[bytes]:
        # events that arrived together leave together: one write (and one syscall) per upstream read
        if self.head is not None and self._degraded is None and self._state is None:
            async for events in self._relay_batches():
                data = b"".join([event.encode() for event in events])
                yield FinalChunk(data) if events[-1].event in _END_EVENTS else data
            return
        batch: list[bytes] = []
        async for event in self.events():
            batch.append(event.encode())
            if event.event in _END_EVENTS:
                yield FinalChunk(b"".join(batch))
                batch.clear()
            elif not self.more_ready():
                yield b"".join(batch)
                batch.clear()
        if batch:
            yield b"".join(batch)

    def more_ready(self) -> bool:
        """Are more upstream events already received (so the current output can wait and go with them)?"""
        return self._queued > 0 or self._buffered_count() > 0

    def _buffered_count(self) -> int:
        source = self._source
        return int(getattr(source, "buffered", 0)) if source is not None else 0

    def events(self) -> AsyncIterator[StreamEvent]:
        """The answer as Messages stream events (for a relay that translates them, e.g. to OpenAI chunks)."""
        if self.head is None:
            raise RuntimeError("call start() before iterating a RoutedStream")
        if self._degraded is not None:
            return self._degraded_body(self._degraded)
        return self._ship_body() if self._state is not None else self._relay_events()

    async def _degraded_body(self, answer: str) -> AsyncIterator[StreamEvent]:
        pending = self._pending
        assert pending is not None
        done = False
        try:
            *head, last = whole_message(pending, answer, stop_sequences_of(self._request))
            for event in head:
                yield event
            done = True
            self._record(pending, None, True, degraded=True)  # on disk before the client's last byte
            yield last
        finally:
            await self._end(pending, None, done, degraded=True)

    async def _ship_body(self) -> AsyncIterator[StreamEvent]:
        state, pending, call, events = self._state, self._pending, self._call, self._events
        assert state is not None and pending is not None and call is not None and events is not None
        error: TieredError | None = None
        done = False
        message = state.message
        # the caller's stop sequences end the answer here, not in the triage (see tiered.cascade.stop_sequences)
        cutter = StopCutter(stop_sequences_of(self._request))
        try:
            yield sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message.get("id") or f"msg_{self._recorder.id[4:]}",
                        "type": "message",
                        "role": "assistant",
                        "model": message.get("model") or call.body.get("model"),
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**state.usage, "output_tokens": 1},
                    },
                },
            )
            yield block_start()
            first = self._shown(cutter, state.answer)
            if first:
                yield text_delta(first)
            try:
                if cutter.matched is None:
                    async for event in self._ship_rest(state, cutter):
                        yield event
            except UpstreamError as exc:
                error = exc
                self._record_shipped(pending, state, error, done)
                yield error_event(exc, pending.request_id)
                return
            end = self._ship_end(state, cutter)
            done = True
            self._record_shipped(pending, state, error, done)  # on disk before the client's last byte
            for event in end:
                yield event
        finally:
            self._record_shipped(pending, state, error, done)
            await self._end(pending, error, done)

    def _record_shipped(
        self, pending: PendingAttempt, state: TriageState, error: TieredError | None, done: bool
    ) -> None:
        if self.decision is None:
            pending.stop_reason = state.stop_reason
            note_triage_usage(pending, state)
            self._record(pending, error, done)

    async def _ship_rest(self, state: TriageState, cutter: StopCutter) -> AsyncIterator[StreamEvent]:
        """The rest of a shipped triage as the client's events (its answer's text deltas, pings), up to its
        ``message_stop`` or the caller's stop sequence."""
        events, source, parser = self._events, self._source, state.parser
        assert events is not None
        async for arrived in events:
            # events that arrived together are handled together: their deltas become one
            deltas: list[bytes] = []
            for event in (arrived, *ready_events(source)):
                name = event.event
                if name == "content_block_delta":
                    deltas.append(event.data)
                    continue
                if deltas:
                    text = self._feed(parser, state, deltas, cutter)
                    deltas = []
                    if text:
                        yield text_delta(text)
                if name == "message_delta":
                    data = event.json()
                    merge_usage(state.usage, data.get("usage"))
                    state.stop_reason = (data.get("delta") or {}).get("stop_reason") or state.stop_reason
                elif name == "ping":
                    yield event
                elif name == "message_stop":
                    state.finished = True
                    break
            if deltas:
                text = self._feed(parser, state, deltas, cutter)
                if text:
                    yield text_delta(text)
            if state.finished or cutter.matched is not None:
                break

    def _shown(self, cutter: StopCutter, text: str) -> str:
        """What of a shipped answer's decoded ``text`` can be sent now (nothing past a stop sequence)."""
        shown = cutter.feed(text)
        if shown:
            self._answer_parts.append(shown)
        return shown

    def _ship_end(self, state: TriageState, cutter: StopCutter) -> list[StreamEvent]:
        """The rest of a shipped answer and the events that end it. At a stop sequence the triage is not read
        further (the final tier would have stopped there too): its usage so far is what the client is told."""
        if cutter.matched is not None:
            stop_reason, tail = "stop_sequence", ""
            if not state.finished:
                assert self._pending is not None
                self._pending.stream_aborted = True
        else:
            stop_reason = "max_tokens" if state.stop_reason == "max_tokens" else "end_turn"
            tail = cutter.flush()
            if tail:
                self._answer_parts.append(tail)
        reported = int(state.usage.get("output_tokens") or 0)
        output_tokens = reported if state.finished and reported else max(reported, state.deltas)
        return [*([text_delta(tail)] if tail else []), *message_end(stop_reason, cutter.matched, output_tokens)]

    def _feed(self, parser: TriageStreamParser, state: TriageState, deltas: list[bytes], cutter: StopCutter) -> str:
        """Feed a shipped answer's raw deltas to its parser; the answer text they complete that can be sent."""
        state.deltas += len(deltas)
        parser.feed(deltas_text(deltas))
        return self._shown(cutter, parser.take_answer())

    async def _relay_events(self) -> AsyncIterator[StreamEvent]:
        async for batch in self._relay_batches():
            self._queued = len(batch)
            for event in batch:
                self._queued -= 1
                yield event

    async def _relay_batches(self) -> AsyncIterator[list[StreamEvent]]:
        """The final tier's events as they come, in the batches they arrived in (decoded in one call each),
        noted for the decision on the way; a failure ends them with an ``error`` event."""
        pending, events = self._pending, self._events
        assert pending is not None and events is not None
        error: TieredError | None = None
        done = False
        relayed = self._relayed = RelayedUsage()
        try:
            try:
                async for batch in _batches(self._buffered, events, self._source):
                    # The batch's text deltas, when all are valid ones of the usual shape, are read in one call;
                    # every other event (and every delta, otherwise) is decoded and noted on its own.
                    deltas = [event.data for event in batch if event.event == _DELTA]
                    text = joined_text_deltas(deltas)
                    if text is None:
                        predecode(batch)
                    elif deltas:
                        if pending.first_token_ms is None:
                            pending.first_token_ms = (time.perf_counter() - self._started_at) * 1000
                        self._answer_parts.append(text)
                        relayed.chars += len(text)
                    end = len(batch)
                    for i, event in enumerate(batch):
                        if text is not None and event.event == _DELTA:
                            continue
                        try:  # decoded: a broken event ends the stream (after those before it) with an error
                            done = self._note(pending, relayed, event)
                        except UpstreamError:
                            if i:
                                yield batch[:i]
                            raise
                        if done:
                            end = i + 1
                            break
                    if done:  # the stream's last events: the decision is on disk before the client has them
                        relayed.record(pending)
                        self._record(pending, None, done)
                    yield batch if end == len(batch) else batch[:end]
                    if done:
                        break
            except UpstreamError as exc:
                error = exc
                relayed.record(pending)
                self._record(pending, error, done)
                yield [error_event(exc, pending.request_id)]
        finally:
            if self.decision is None:
                relayed.record(pending)
            await self._end(pending, error, done)

    def _note(self, pending: PendingAttempt, relayed: RelayedUsage, event: StreamEvent) -> bool:
        """Take what the decision needs from a relayed event; ``True`` at ``message_stop``."""
        name = event.event
        if name == "content_block_delta":
            if pending.first_token_ms is None:
                pending.first_token_ms = (time.perf_counter() - self._started_at) * 1000
            delta = event.json().get("delta") or {}
            if delta.get("type") == "text_delta":
                self._answer_parts.append(delta.get("text") or "")
            relayed.chars += delta_chars(delta)
        elif name == "message_start":
            merge_usage(relayed.reported, (event.json().get("message") or {}).get("usage"))
        elif name == "message_delta":
            data = event.json()
            merge_usage(relayed.reported, data.get("usage"))
            relayed.final = True
            pending.stop_reason = (data.get("delta") or {}).get("stop_reason") or pending.stop_reason
        return name == "message_stop"

    def _record(
        self, pending: PendingAttempt, error: TieredError | None, done: bool, *, degraded: bool = False
    ) -> None:
        """Build and hand out the decision, once. A stream that ends normally or with an ``error`` event calls
        this before handing out its last event: the decision is then in the write-ahead log (see
        :mod:`tiered.store.wal`) before the server sends the response's last byte (see FinalChunk)."""
        if self.decision is not None:
            return
        pending.latency_ms = (time.perf_counter() - self._started_at) * 1000
        if error is not None:
            pending.error = str(error)
        elif not done:
            pending.stream_aborted = True
            error = TieredError("the client disconnected before the answer ended")
            error.status = 499
        self._settle_plan(error is not None)
        answer = "".join(self._answer_parts) if not degraded else self._degraded
        self.decision = self._recorder.finish(self._step, pending, answer, error, degraded=degraded)

    async def _end(
        self, pending: PendingAttempt, error: TieredError | None, done: bool, *, degraded: bool = False
    ) -> None:
        try:
            # recorded before the upstream is closed (when it was not already, before the last event)
            self._record(pending, error, done, degraded=degraded)
        finally:
            # a cancelled task (client gone) would cancel these awaits too: the upstream must still be closed
            with anyio.CancelScope(shield=True):
                await self._stack.aclose()
            self._closed = True

    @property
    def closed(self) -> bool:
        """The upstream calls are closed and the decision is recorded: :meth:`aclose` has nothing left to do."""
        return self._closed and self.decision is not None

    def _settle_plan(self, failed: bool) -> None:
        """After a relayed final call, let the cascade finish so the decision gets its verdicts."""
        if self._step is None and self._plan is not None:
            try:
                self._plan.send(Reply(error=failed))
            except StopIteration as stop:
                self._step = stop.value
            self._plan = None

    async def aclose(self) -> None:
        """End the stream now (client gone, or not iterated): close upstream calls, record the decision."""
        if self.closed:
            return
        with anyio.CancelScope(shield=True):
            await self._stack.aclose()
        if self.decision is None:
            pending = self._pending
            if pending is not None:
                pending.cancelled = True
                # the body's own end (which records the usage) never ran: record what was sent
                if self._relayed is not None:
                    self._relayed.record(pending)
                elif self._state is not None:
                    note_triage_usage(pending, self._state)
            error = TieredError("the stream was closed before the answer ended")
            error.status = 499
            if pending is not None:
                self._settle_plan(True)
            self.decision = self._recorder.finish(self._step, pending, "".join(self._answer_parts), error)


@dataclass(slots=True)
class _Leg:
    """One upstream stream being opened: its call, record, exit stack and what was read so far."""

    call: Call
    pending: PendingAttempt
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    state: TriageState | None = None
    events: AsyncIterator[StreamEvent] | None = None
    source: ProviderStream | None = None
    buffered: list[StreamEvent] = field(default_factory=list)
    read: TriageRead | None = None
    error: TieredError | None = None
    started: float = field(default_factory=time.perf_counter)
    task: asyncio.Future[_Leg] | None = None

    async def wait(self) -> _Leg:
        if self.task is not None:
            await self.task
        return self

    async def close(self, lost_to: PendingAttempt | None = None) -> None:
        """Cancel and close this call (it lost a hedge); estimate its cost from the winner's input."""
        if self.task is not None:
            await _cancel(self.task)
        with anyio.CancelScope(shield=True):
            await self.stack.aclose()
        self.pending.cancelled = True
        self.pending.latency_ms = (time.perf_counter() - self.started) * 1000
        if self.state is not None:
            note_triage_usage(self.pending, self.state)
        if lost_to is not None:
            estimate_cancelled(self.pending, lost_to)


async def _cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


_DELTA = "content_block_delta"


async def _batches(
    first: list[StreamEvent], rest: AsyncIterator[StreamEvent], source: object
) -> AsyncIterator[list[StreamEvent]]:
    """``first``, then ``rest`` in batches: each event with those ``source`` (the stream behind ``rest``) has
    already received."""
    if first:
        yield [*first, *ready_events(source)]
    async for event in rest:
        yield [event, *ready_events(source)]
