"""Routing as a stream: ship while the cheap model writes, or abort the triage at once and relay."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tiered.config import Settings
from tiered.decision import EscalationReason, Outcome
from tiered.errors import UpstreamError
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router
from tiered.streaming import FinalChunk, RoutedStream, StreamHead

pytestmark = pytest.mark.anyio


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "tiered",
        "max_tokens": 2000,
        "stream": True,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def text_of(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(
        d["delta"]["text"] for e, d in events if e == "content_block_delta" and d["delta"]["type"] == "text_delta"
    )


async def collect(
    router: Router, request: dict[str, Any], route: str = "default"
) -> tuple[RoutedStream, StreamHead, bytes]:
    routed = router.stream(request, route=route)
    head = await routed.start()
    chunks = [chunk async for chunk in routed]
    return routed, head, b"".join(chunks)


async def test_shipped_stream_is_a_valid_messages_stream(settings: Settings, upstream: FakeUpstream) -> None:
    answer = 'Line one "quoted"\nline two \\ with é and 🎉'
    router = Router(settings)
    try:
        routed, head, raw = await collect(router, ask(f"[[fake confidence=0.9 answer={json.dumps(answer)} tps=0]] q"))
    finally:
        await router.aclose()
    assert not head.escalated and head.model == "claude-haiku-4-5" and head.confidence == pytest.approx(0.9)
    events = parse_sse(raw)
    names = [e for e, _ in events]
    assert names[0] == "message_start" and names[1] == "content_block_start"
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert text_of(events) == answer  # decoded from the JSON string, never the raw triage JSON
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[-2][1]["usage"]["output_tokens"] > 0
    decision = routed.decision
    assert decision is not None and decision.stream and not decision.escalated
    assert decision.attempts[0].outcome is Outcome.SHIPPED
    assert decision.attempts[0].usage.input_tokens > 0 and decision.cost_usd is not None
    assert len(upstream.requests) == 1


async def test_escalated_stream_is_relayed_event_by_event(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        routed, head, raw = await collect(router, ask("[[fake haiku:confidence=0.1 opus:tokens=40]] hard question"))
    finally:
        await router.aclose()
    assert head.escalated and head.model == "claude-opus-4-7" and head.reason is EscalationReason.LOW_CONFIDENCE
    assert head.confidence == pytest.approx(0.1)
    events = parse_sse(raw)
    assert events[0][1]["message"]["model"].startswith("claude-opus-4-7")
    assert events[-1][0] == "message_stop"
    upstream.wait_idle()
    triage, final = upstream.requests
    assert final.body == {k: v for k, v in ask("").items() if k != "messages"} | {
        "model": "claude-opus-4-7",
        "messages": [{"role": "user", "content": "[[fake haiku:confidence=0.1 opus:tokens=40]] hard question"}],
    }
    decision = routed.decision
    assert decision is not None
    assert decision.answered_by == "claude-opus-4-7" and decision.reason is EscalationReason.LOW_CONFIDENCE
    assert (
        decision.attempts[1].usage.output_tokens == final.content_events or decision.attempts[1].usage.output_tokens > 0
    )


async def test_early_abort_cuts_the_triage_right_after_the_confidence(
    settings: Settings, upstream: FakeUpstream
) -> None:
    """A triage that states a low confidence and then writes a long answer is cut after the confidence: the
    proxy neither reads nor waits for the rest, and the final answer starts long before the triage would end."""
    request = ask(
        '[[fake haiku:confidence=0.3 haiku:answer="' + "word " * 400 + '" haiku:ttft=50 haiku:tps=200 '
        "opus:tokens=5 opus:ttft=50 opus:tps=1000]] q"
    )
    router = Router(settings)
    try:
        started = time.perf_counter()
        routed = router.stream(request)
        head = await routed.start()
        first_byte = None
        async for _chunk in routed:
            if first_byte is None:
                first_byte = time.perf_counter() - started
    finally:
        await router.aclose()
    assert head.escalated and head.reason is EscalationReason.LOW_CONFIDENCE
    upstream.wait_idle()
    triage = upstream.requests[0]
    assert triage.is_triage and triage.disconnected and not triage.completed
    # the whole triage would be ~400 tokens at 200/s = 2 s; it was cut within the first few tokens
    assert triage.content_events < 20
    assert first_byte is not None and first_byte < 1.0
    assert routed.decision is not None
    attempt = routed.decision.attempts[0]
    assert attempt.stream_aborted and attempt.reason is EscalationReason.LOW_CONFIDENCE


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("haiku:fault=not_json", EscalationReason.INVALID_OUTPUT),
        ("haiku:fault=confidence_out_of_range", EscalationReason.INVALID_OUTPUT),
        # a refusal that starts in prose is cut at its first character, before its stop_reason arrives
        ("haiku:fault=refusal", EscalationReason.INVALID_OUTPUT),
        ("haiku:fault=overloaded", EscalationReason.UPSTREAM_ERROR),
        ("haiku:fault=drop haiku:after=2", EscalationReason.UPSTREAM_ERROR),
        ("haiku:confidence=0.99 haiku:answer=null", EscalationReason.NO_ANSWER),
    ],
)
async def test_broken_streamed_triage_escalates(
    settings: Settings, upstream: FakeUpstream, directive: str, reason: EscalationReason
) -> None:
    router = Router(settings)
    try:
        routed, head, raw = await collect(router, ask(f"[[fake {directive}]] q"))
    finally:
        await router.aclose()
    assert head.escalated and head.reason is reason, head
    events = parse_sse(raw)
    assert events[0][1]["message"]["model"].startswith("claude-opus-4-7")
    assert "confidence" not in text_of(events)


async def test_stream_fails_cleanly_when_no_tier_can_start(settings: Settings, upstream: FakeUpstream) -> None:
    anthropic = settings.provider("anthropic").model_copy(update={"max_retries": 0})
    router = Router(settings.model_copy(update={"providers": {**settings.providers, "anthropic": anthropic}}))
    try:
        routed = router.stream(ask("[[fake fault=overloaded]] q"))
        with pytest.raises(UpstreamError) as err:
            await routed.start()
    finally:
        await router.aclose()
    assert err.value.status == 529
    assert routed.decision is not None and routed.decision.error is not None
    assert err.value.decision_id == routed.decision.id


async def test_closing_early_cancels_the_upstream_and_records(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        routed = router.stream(ask("[[fake haiku:confidence=0.1 opus:tokens=2000 opus:tps=100]] q"))
        await routed.start()
        iterator = aiter(routed)
        await anext(iterator)
        await routed.aclose()
    finally:
        await router.aclose()
    upstream.wait_idle()
    assert upstream.requests[-1].disconnected
    assert routed.decision is not None and routed.decision.error_status == 499


@pytest.mark.parametrize(
    "prompt",
    [
        "[[fake confidence=0.9 tokens=30]] shipped",
        "[[fake haiku:confidence=0.1 opus:tokens=30]] relayed",
        "[[fake haiku:confidence=0.1 opus:fault=drop opus:after=5]] relay cut by the upstream",
    ],
    ids=["shipped", "relayed", "relay-error"],
)
async def test_the_last_chunk_is_marked_and_the_decision_precedes_it(
    prompt: str, settings: Settings, upstream: FakeUpstream
) -> None:
    """A server ends the response with the FinalChunk; the decision is recorded (and so, with the store, in
    its write-ahead log) before that chunk is handed out; the stream's own end (closing the upstream) follows
    when the server asks for more, and nothing else does."""
    emitted: list[str] = []
    router = Router(settings)
    router.add_observer(lambda decision, _exchange: emitted.append(decision.id))
    try:
        routed = router.stream(ask(prompt))
        await routed.start()
        chunks = aiter(routed)
        seen: list[bytes] = []
        while not seen or type(seen[-1]) is not FinalChunk:
            seen.append(await anext(chunks))
        assert routed.decision is not None and emitted == [routed.decision.id]  # before the client has the end
        assert not routed.closed  # the upstream is closed after the last chunk went out
        assert all(type(chunk) is bytes for chunk in seen[:-1])
        last = parse_sse(seen[-1])[-1][0]
        assert last in ("message_stop", "error")
        assert [chunk async for chunk in chunks] == []
    finally:
        await router.aclose()
    decision = routed.decision
    assert decision is not None and (decision.error is None) == (last == "message_stop")
