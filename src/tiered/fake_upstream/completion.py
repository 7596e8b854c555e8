"""Serving one completion, whatever the dialect: faults, latency, JSON or stream."""

from __future__ import annotations

from typing import Any, Protocol

from tiered.fake_upstream.asgi import Frame, WireExchange, json_bytes, play
from tiered.fake_upstream.faults import Failure, status_failure
from tiered.fake_upstream.generate import Reply, build_reply
from tiered.fake_upstream.prompt import Prompt
from tiered.fake_upstream.resolve import Resolution, Runtime

__all__ = ["Dialect", "serve"]

_STREAM_CUTS = ("drop", "stall", "stream_error", "malformed")


class Dialect(Protocol):
    """How one wire format renders replies and errors."""

    def failure_body(self, failure: Failure, request_id: str) -> dict[str, Any]: ...

    def response_json(self, reply: Reply, prompt: Prompt) -> dict[str, Any]: ...

    def frames(self, reply: Reply, prompt: Prompt) -> list[Frame]: ...

    def cut(self, frames: list[Frame], after: int, kind: str, request_id: str) -> list[Frame]:
        """The first ``after`` events, then an error event (``stream_error``) or a broken one
        (``malformed``); just the first events for ``drop`` and ``stall``."""
        ...


async def send_failure(dialect: Dialect, ex: WireExchange, failure: Failure) -> None:
    await ex.json(failure.status, dialect.failure_body(failure, ex.record.request_id), failure.headers)


async def serve(
    dialect: Dialect, runtime: Runtime, ex: WireExchange, prompt: Prompt, resolution: Resolution, *, start: float
) -> None:
    """Answer a validated request. ``start`` (event loop time) anchors the latency schedule."""
    record = ex.record
    record.model, record.stream = prompt.model, prompt.stream
    record.is_triage, record.triage_mode = prompt.triage is not None, prompt.triage
    fault = resolution.fault
    kind = fault.kind if fault is not None else None
    record.fault = kind
    if fault is not None:
        failure = status_failure(fault)
        if failure is not None:
            await send_failure(dialect, ex, failure)
            return
        if kind == "timeout" or (kind == "stall" and not prompt.stream):
            await ex.hang(fault.hang_s)
            return
        if not prompt.stream and kind == "drop":
            await ex.abort()
            return
        if not prompt.stream and kind == "stream_error":
            overloaded = Failure(529, "overloaded_error", "Overloaded", ((b"x-should-retry", b"true"),))
            await send_failure(dialect, ex, overloaded)
            return
    reply = build_reply(prompt, resolution, runtime.scenario)
    record.confidence = reply.confidence
    if not prompt.stream:
        tps = reply.tokens_per_s
        delay = reply.ttft_s + (len(reply.tokens) / tps if tps > 0 else 0.0)
        if delay > 0:
            ex.watch()
            if not await ex.wait_until(start + delay):
                return
        body = json_bytes(dialect.response_json(reply, prompt))
        if kind == "malformed":
            body = body[: len(body) // 2]
        await ex.respond(200, body)
        return
    frames = dialect.frames(reply, prompt)
    if fault is not None and kind in _STREAM_CUTS:
        frames = dialect.cut(frames, fault.after_events, fault.kind, record.request_id)
    await ex.start_stream()
    if await play(ex, frames, start):
        if kind == "drop":
            await ex.abort()
        elif kind == "stall" and fault is not None:
            await ex.hang(fault.hang_s)
        else:
            await ex.finish()
