"""The runner: one request routed as a stream, with early abort.

A triage call is streamed and read as it arrives (:class:`~tiered.cascade.stream_parse.TriageStreamParser`). The
moment the decision is known (:func:`~tiered.cascade.policy.early_read`):

- **ship**: the answer is streamed to the client as Anthropic SSE text deltas while the cheap model is still
  writing it, decoded from the JSON string on the fly. Nothing is sent before the decision, so the client never
  sees a draft that is later withdrawn;
- **escalate**: the triage stream is closed at once (tiered neither waits for nor pays for the rest of it) and
  the next tier is called; the final tier's stream is relayed to the client event by event, byte for byte.

Usage: ``head = await routed.start()`` runs the cascade until the answer's source is known and returns what the
response headers need (it raises :class:`~tiered.errors.UpstreamError` when no tier could start answering, so
the caller can still send a proper error status); then ``async for chunk in routed`` yields SSE bytes;
``aclose()`` ends it early (client gone: calls closed, the cancellation recorded). One decision, once. A JSON
response is the same run collected (``collect=True``: every call is read whole by :meth:`~RoutedStream.start`,
see :mod:`.legs`; then :meth:`~RoutedStream.collected`), the httpx model of ``send(stream=True)``, ``read()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio

from ..cascade.betas import betas_of
from ..cascade.policy import Call, Reply, Step, cascade, hedges
from ..cascade.stop_sequences import stop_sequences_of
from ..decision import AttemptRole, Decision, EscalationReason
from ..errors import TieredError, UpstreamError
from ..health import rejected_by_upstream
from ..providers.base import Buffered, StreamEvent, buffered_source, predecode
from .attempts import PendingAttempt, RelayedUsage, cancelled_error
from .head import FinalChunk, StreamHead
from .legs import Calls, Leg, explored
from .recording import Recorder
from .relay import DELTA, batches, note_relayed
from .reply import answer_message, message_head, message_text
from .ship import ShippedAnswer
from .sse_events import (
    block_start,
    error_event,
    joined_text_deltas,
    message_events,
    sse,
    text_delta,
)
from .triage_read import TriageState, message_of, note_triage_usage

if TYPE_CHECKING:
    from ..config import RouteSettings
    from ..decision import EscalationReason
    from ..providers.base import ProviderStream
    from .deps import Deps

__all__ = ["FinalChunk", "RoutedStream", "StreamHead"]

_END_EVENTS = frozenset({"message_stop", "error"})


class RoutedStream:
    def __init__(
        self,
        deps: Deps,
        request: dict[str, Any],
        route_name: str,
        route: RouteSettings,
        *,
        headers: Mapping[str, str] | None,
        key_id: str | None,
        passthrough: bool = False,
        collect: bool = False,
    ) -> None:
        self._deps = deps
        self._collect = collect
        self._request = {k: v for k, v in request.items() if k != "stream"}
        self._route_name = route_name
        self._route = route
        self._headers = headers
        self._passthrough = passthrough
        self._recorder: Recorder = Recorder(
            deps,
            self._request,
            route_name,
            route,
            stream=not collect,
            key_id=key_id,
            passthrough=passthrough,
            headers=headers,
        )
        self._calls = Calls(deps, route, self._request, headers, self._recorder, collect=collect)
        self._stack = AsyncExitStack()
        self._events: AsyncIterator[StreamEvent] | None = None
        self._buffered: list[StreamEvent] = []
        self._source: ProviderStream | None = None
        self._buffered_source: Buffered | None = None
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
        calibrators = {} if self._passthrough else self._deps.calibrators(route)
        skip = await self._advice() if self._deps.economics is not None else None
        plan = cascade(self._request, route, calibrators, betas_of(self._headers), skip=skip)
        self._plan = plan
        call = next(plan)
        calls, clock = self._calls, self._deps.clock
        hedge: Leg | None = None
        while True:
            cancelled = False
            if hedge is not None and call.role is AttemptRole.FINAL:
                leg, hedge = await hedge.wait(), None  # the hedge already made this call
            else:
                leg = calls.leg(call)
                try:
                    if hedges(call, route):
                        hedge, cancelled = await calls.open_hedged(leg)
                    else:
                        await calls.open(leg)
                except BaseException:
                    await self._abandon(leg, hedge)
                    raise
            pending, error = leg.pending, leg.error
            pending.read = leg.read
            if error is None and not leg.triage:
                return self._relay_head(leg, call.reason, call.detail)
            try:
                call = plan.send(Reply(leg.read, error is not None, rejected_by_upstream(error), cancelled=cancelled))
            except StopIteration as stop:
                step: Step = stop.value
                self._step = step
                if hedge is not None:  # the triage decided first: the hedge lost
                    await hedge.close(clock(), lost_to=pending)
                    hedge = None
                if step.kind == "ship":
                    self._adopt(leg)
                    self._state = leg.state
                    confidence = leg.read.confidence if leg.read is not None else None
                    self.head = StreamHead(self._recorder.id, self._route_name, leg.call.model, False, confidence, None)
                    return self.head
                await leg.stack.aclose()  # (empty for a JSON run's triage unless held for exploration)
                if step.kind == "degraded":
                    return await self._degrade(step, pending, leg.started)
                failure = error or UpstreamError("no tier answered")
                pending.latency_ms = (clock() - leg.started) * 1000
                self.decision = self._recorder.finish(step, pending, None, failure)
                raise failure from None
            # escalate: stop reading the triage at once
            if leg.read is not None and leg.read.confidence is not None:
                self._triage_confidence = leg.read.confidence
            if leg.state is not None and not cancelled:
                pending.stream_aborted = not leg.state.finished and error is None
                note_triage_usage(pending, leg.state)
                if not pending.body:
                    pending.body = message_of(leg.state)
            if cancelled or not explored(self._deps, leg, self._recorder.id, self._route_name, route):
                await leg.stack.aclose()
            pending.latency_ms = (clock() - leg.started) * 1000

    def _adopt(self, leg: Leg) -> None:
        """``leg`` answers: its stream and exit stack become this stream's."""
        self._stack, self._events, self._pending, self._call = leg.stack, leg.events, leg.pending, leg.call
        self._source = leg.source
        if leg.source is not None:
            self._buffered_source = buffered_source(leg.source)
        self._buffered = leg.buffered
        self._started_at = leg.started

    def _relay_head(self, leg: Leg, reason: EscalationReason | None, detail: str | None = None) -> StreamHead:
        """``reason``: why the cascade got to this call (from the call the cascade made, not the hedge's)."""
        self._adopt(leg)
        escalated = leg.pending is not self._recorder.pending[0]
        confidence = self._triage_confidence if escalated else None
        self.head = StreamHead(
            self._recorder.id, self._route_name, leg.call.model, escalated, confidence, reason, reason_detail=detail
        )
        return self.head

    async def _abandon(self, leg: Leg, hedge: Leg | None) -> None:
        """The request was cancelled while a call was open: close everything and record it."""
        leg.pending.cancelled = True
        leg.pending.latency_ms = (self._deps.clock() - leg.started) * 1000
        if leg.triage:
            self._deps.breaker.release_probe(self._route.tiers[leg.call.tier].model)
        with anyio.CancelScope(shield=True):
            await leg.stack.aclose()
            if hedge is not None:
                await hedge.close(self._deps.clock())
            await self._stack.aclose()
        self.decision = self._recorder.finish(None, None, None, cancelled_error())

    async def _advice(self) -> tuple[int, EscalationReason, str] | None:
        """The economics' advice for this request (:mod:`tiered.economics`): where its cascade starts if triage
        does not pay; the ticket learns from the decision when the recorder finishes."""
        assert self._deps.economics is not None
        try:
            ticket = await self._deps.economics.plan(
                self._request, self._route_name, self._route, self._headers, passthrough=self._passthrough
            )
        except BaseException:  # cancelled (client gone) while shared state was read: still one decision
            self.decision = self._recorder.finish(None, None, None, cancelled_error())
            raise
        self._recorder.ticket = ticket
        return ticket.cascade_skip

    async def _degrade(self, step: Step, failed: PendingAttempt, started: float) -> StreamHead:
        """The final tier failed before its first byte; ship the best cheap answer read whole."""
        failed.latency_ms = (self._deps.clock() - started) * 1000
        await self._stack.aclose()
        source = self._recorder.triage_attempt(step.tier)
        assert source.read is not None and source.read.answer is not None
        self._pending, self._call, self._degraded = source, source.call, source.read.answer
        self._started_at = self._deps.clock()
        confidence = source.read.confidence
        self.head = StreamHead(
            self._recorder.id, self._route_name, source.call.model, True, confidence, step.reason, degraded=True
        )
        return self.head

    def _message_id(self) -> str:
        """The id of a reply tiered builds, when the triage's message has none."""
        return f"msg_{self._recorder.id[4:]}"

    def _answer(self, pending: PendingAttempt, answer: str) -> dict[str, Any]:
        return answer_message(pending, answer, stop_sequences_of(self._request), self._message_id())

    # -- the JSON response: the run collected -----------------------------------------------------------------

    def collected(self) -> dict[str, Any]:
        """A ``collect=True`` run's whole answer, after :meth:`start` (nothing left to await); records it."""
        pending, call = self._pending, self._call
        if not self._collect or self.head is None or pending is None or call is None:
            raise RuntimeError("collected() is for a run started with collect=True, after start()")
        self._closed = True
        degraded = self._degraded is not None
        if call.role is not AttemptRole.TRIAGE:  # the final call answered: its reply is the answer
            self._settle_plan(False)
            self.decision = self._recorder.finish(self._step, pending, message_text(pending.body))
            return pending.body
        if self._degraded is not None:
            answer = self._degraded
        else:
            read = pending.read
            assert read is not None and read.answer is not None
            answer = read.answer
            pending.latency_ms = (self._deps.clock() - self._started_at) * 1000
        body = self._answer(pending, answer)
        self.decision = self._recorder.finish(self._step, pending, message_text(body), degraded=degraded)
        return body

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
        if self._queued > 0:
            return True
        source = self._buffered_source
        return source is not None and source.buffered > 0

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
            *head, last = message_events(self._answer(pending, answer))
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
        shipped = ShippedAnswer(
            state, pending, events, self._source, stop_sequences_of(self._request), self._answer_parts
        )
        try:
            model = str(message.get("model") or call.body.get("model"))
            head = message_head(message, model, {**state.usage, "output_tokens": 1}, self._message_id())
            yield sse("message_start", {"type": "message_start", "message": head})
            yield block_start()
            first = shipped.shown(state.answer)
            if first:
                yield text_delta(first)
            try:
                if shipped.cutter.matched is None:
                    async for event in shipped.rest():
                        yield event
            except UpstreamError as exc:
                error = exc
                self._record_shipped(pending, state, error, done)
                yield error_event(exc, pending.request_id)
                return
            end = shipped.end()
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
                async for batch in batches(self._buffered, events, self._source):
                    # The batch's text deltas, when all are valid ones of the usual shape, are read in one call;
                    # every other event (and every delta, otherwise) is decoded and noted on its own.
                    deltas = [event.data for event in batch if event.event == DELTA]
                    text = joined_text_deltas(deltas)
                    if text is None:
                        predecode(batch)
                    elif deltas:
                        if pending.first_token_ms is None:
                            pending.first_token_ms = (self._deps.clock() - self._started_at) * 1000
                        self._answer_parts.append(text)
                        relayed.chars += len(text)
                    end = len(batch)
                    for i, event in enumerate(batch):
                        if text is not None and event.event == DELTA:
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
        return note_relayed(pending, relayed, event, self._answer_parts, self._elapsed_ms)

    def _elapsed_ms(self) -> float:
        return (self._deps.clock() - self._started_at) * 1000

    def _record(
        self, pending: PendingAttempt, error: TieredError | None, done: bool, *, degraded: bool = False
    ) -> None:
        """Build and hand out the decision, once. A stream that ends normally or with an ``error`` event calls
        this before handing out its last event: the decision is then in the write-ahead log (see
        :mod:`tiered.store.wal`) before the server sends the response's last byte (see FinalChunk)."""
        if self.decision is not None:
            return
        pending.latency_ms = (self._deps.clock() - self._started_at) * 1000
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
