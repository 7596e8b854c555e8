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
