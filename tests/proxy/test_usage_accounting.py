"""Usage and cost through the proxy, with the official SDK against the fake: each attempt keeps the upstream's
whole usage object (in the decision, the API and the store), and a relayed final stream that ends early (the
client gone, or the upstream failing mid-stream) is costed by what was relayed, flagged as an estimate."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx2
import pytest

from tiered.accounting import tokens_for_chars
from tiered.decision import Decision
from tiered.fake_upstream import FakeUpstream
from tiered.pricing import default_price_book
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, make_engine
from tiered.store.lookup import load_decision


def _client(proxy: ProxyThread, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=key, max_retries=0)


def _decision(proxy: ProxyThread, decision_id: str) -> Decision:
    """The decision once recorded (a stream's is recorded as the stream ends, after the client has gone)."""
    deadline = time.monotonic() + 10
    while (found := proxy.decisions().get(decision_id)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found is not None, f"no decision {decision_id}"
    return found  # type: ignore[no-any-return]


def _stored(decision_id: str) -> dict[str, Any]:
    engine = make_engine(default_database_url())
    try:
        deadline = time.monotonic() + 10
        while (found := load_decision(engine, decision_id)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.dispose()
    assert found is not None, f"{decision_id} never reached the store"
    return found


def _read_text(stream: Any, into: list[str], *, up_to: int | None = None) -> None:
    """Read ``stream``'s text deltas into ``into``; stop after ``up_to`` of them (the client goes away)."""
    for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            into.append(event.delta.text)
            if up_to is not None and len(into) >= up_to:
                return


def _open_stream(keyed: tuple[ProxyThread, KeyStore], prompt: str) -> tuple[Any, str, str]:
    """A streamed request by a new virtual key: (the SDK's stream, its decision id, the key)."""
    proxy, keys = keyed
    _, secret = keys.create("streamer")
    stream = _client(proxy, secret).messages.create(
        model="tiered", max_tokens=8000, stream=True, messages=[{"role": "user", "content": prompt}]
    )
    return stream, stream.response.headers["x-tiered-decision-id"], secret


def test_each_attempt_keeps_the_usage_object_the_upstream_reported(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, keys = keyed
    _, secret = keys.create("app")
    prompt = "[[fake haiku:confidence=0.2 opus:input_tokens=900 opus:cache_read=4000 opus:cache_creation=700]] q"
    raw = _client(proxy, secret).messages.with_raw_response.create(
        model="tiered", max_tokens=300, messages=[{"role": "user", "content": prompt}]
    )
    message = raw.parse()
    decision_id = raw.headers["x-tiered-decision-id"]
    final = _decision(proxy, decision_id).attempts[-1]
    sent = message.usage.model_dump(exclude_none=True)  # what the client got is what the upstream reported
    assert final.reported_usage is not None
    assert {k: final.reported_usage[k] for k in sent} == sent
    assert final.usage.cache_read_input_tokens == 4000 and final.usage.cache_creation_input_tokens == 700
    assert not final.usage_estimated
    shown = httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers={"x-api-key": secret}).json()
    stored = _stored(decision_id)
    for body in (shown, stored):
        triage, answer = body["attempts"]
        assert answer["reported_usage"] == final.reported_usage and answer["usage_estimated"] is False
        assert triage["reported_usage"]["input_tokens"] > 0  # the triage's own usage object, kept too
        assert answer["usage"]["cache_creation_input_tokens"] == 700


def test_a_relayed_stream_the_client_abandons_is_costed_by_what_was_relayed(
    keyed: tuple[ProxyThread, KeyStore], upstream: FakeUpstream
) -> None:
    proxy = keyed[0]
    prompt = "[[fake haiku:confidence=0.1 opus:tokens=4000 opus:tps=2000]] write at length"
    stream, decision_id, secret = _open_stream(keyed, prompt)
    received: list[str] = []
    with stream:
        _read_text(stream, received, up_to=300)  # then the client goes away mid-answer
    upstream.wait_idle()
    decision = _decision(proxy, decision_id)
    final = decision.attempts[-1]
    assert final.model.startswith("claude-opus") and final.stream_aborted
    # the upstream reported only message_start's usage (one output token); what was relayed is at least what
    # the client read
    assert final.reported_usage is not None and final.reported_usage["output_tokens"] == 1
    assert final.usage.output_tokens >= tokens_for_chars(len("".join(received))) > 50
    assert final.usage_estimated
    assert final.cost_usd == pytest.approx(default_price_book().cost(final.model, final.usage))
    shown = httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers={"x-api-key": secret}).json()
    assert shown["attempts"][-1]["usage_estimated"] is True
    assert shown["attempts"][-1]["usage"]["output_tokens"] == final.usage.output_tokens
    assert _stored(decision_id)["attempts"][-1]["usage_estimated"] is True


def test_a_relayed_stream_that_fails_mid_stream_is_costed_by_what_was_relayed(
    keyed: tuple[ProxyThread, KeyStore], upstream: FakeUpstream
) -> None:
    prompt = "[[fake haiku:confidence=0.1 opus:tokens=600 opus:fault=drop opus:after=400]] write at length"
    stream, decision_id, _ = _open_stream(keyed, prompt)
    received: list[str] = []
    with pytest.raises(anthropic.APIError), stream:  # the stream ends with the upstream's error event
        _read_text(stream, received)
    final = _decision(keyed[0], decision_id).attempts[-1]
    assert final.error is not None and len(received) > 100
    assert final.usage.output_tokens >= tokens_for_chars(len("".join(received)))
    assert final.usage.output_tokens > 1 and final.usage_estimated


def test_a_relayed_stream_that_ends_reports_the_upstreams_final_usage(
    keyed: tuple[ProxyThread, KeyStore], upstream: FakeUpstream
) -> None:
    proxy, keys = keyed
    _, secret = keys.create("streamer")
    prompt = "[[fake haiku:confidence=0.1 opus:tokens=300 opus:output_tokens=345]] write"
    with _client(proxy, secret).messages.stream(
        model="tiered", max_tokens=2000, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        message = stream.get_final_message()
        decision_id = stream.response.headers["x-tiered-decision-id"]
    final = _decision(proxy, decision_id).attempts[-1]
    assert message.usage.output_tokens == 345 == final.usage.output_tokens
    assert not final.usage_estimated and not final.stream_aborted
    assert final.reported_usage is not None and final.reported_usage["output_tokens"] == 345


def test_one_hour_cache_writes_are_priced_at_the_one_hour_rate(keyed: tuple[ProxyThread, KeyStore]) -> None:
    """A system prompt cached with ``ttl: "1h"``: the fake's prompt cache writes it on the final tier (Opus 4.7)
    and reports the split in ``usage.cache_creation``; the attempt keeps it and is priced at genai-prices'
    1-hour rate ($10 per million for Opus 4.7, twice input) instead of the 5-minute one ($6.25)."""
    proxy, keys = keyed
    _, secret = keys.create("cacher")
    system = [{"type": "text", "text": "abcd" * 5_000, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    raw = _client(proxy, secret).messages.with_raw_response.create(
        model="tiered",
        max_tokens=300,
        system=system,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "[[fake haiku:confidence=0.2 opus:tokens=20]] q"}],
    )
    message = raw.parse()
    decision_id = raw.headers["x-tiered-decision-id"]
    assert message.usage.cache_creation is not None
    written = message.usage.cache_creation.ephemeral_1h_input_tokens
    assert written == 5_000 and message.usage.cache_creation.ephemeral_5m_input_tokens == 0
    final = _decision(proxy, decision_id).attempts[-1]
    usage = final.usage
    assert usage.cache_creation_1h_input_tokens == usage.cache_creation_input_tokens == written
    # Opus 4.7 in genai-prices: $5 input, $25 output, $0.50 cache read, $10 1-hour cache write
    expected = (
        usage.input_tokens * 5 + usage.output_tokens * 25 + usage.cache_read_input_tokens * 0.5 + written * 10
    ) / 1_000_000
    assert final.cost_usd == pytest.approx(expected, abs=1e-12)
    assert written * 10 / 1_000_000 == pytest.approx(0.05)  # $0.05 of writes, not $0.03125
    stored = _stored(decision_id)
    assert stored["attempts"][-1]["usage"]["cache_creation_1h_input_tokens"] == written
    assert stored["attempts"][-1]["reported_usage"]["cache_creation"]["ephemeral_1h_input_tokens"] == written
    assert stored["attempts"][-1]["cost_usd"] == pytest.approx(expected, abs=1e-12)
