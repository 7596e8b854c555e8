"""Latency pacing and client disconnects. Timing is only ever asserted as a lower bound."""

from __future__ import annotations

import time

import anthropic
import httpx2
import pytest
from tests.fake_upstream._fake_helpers import user

from tiered.fake_upstream import FakeUpstream, Scenario


def _arrivals(http: httpx2.Client, body: dict[str, object]) -> tuple[float, list[tuple[float, str]]]:
    """Seconds from sending to each SSE event (with its name)."""
    sent = time.monotonic()
    seen: list[tuple[float, str]] = []
    with http.stream("POST", "/v1/messages", json=body) as response:
        for event in httpx2.EventSource(response):
            seen.append((time.monotonic() - sent, event.event))
    return sent, seen


def test_ttft_delays_the_first_token(http: httpx2.Client) -> None:
    _, seen = _arrivals(http, user("x [[fake ttft=200 tokens=5]]", stream=True))
    names = [name for _, name in seen]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    first_delta = next(t for t, name in seen if name == "content_block_delta")
    assert first_delta >= 0.2
    assert seen[0][0] <= first_delta  # the preamble does not wait for the first token


def test_token_rate_spreads_the_stream(http: httpx2.Client, fake: FakeUpstream) -> None:
    _, seen = _arrivals(http, user("x [[fake tps=100 tokens=21]]", stream=True))
    deltas = [t for t, name in seen if name == "content_block_delta"]
    assert len(deltas) == 21
    assert deltas == sorted(deltas)
    assert deltas[-1] - deltas[0] >= 0.19  # 20 intervals of 10 ms
    fake.wait_idle()
    assert fake.requests[-1].writes > 1


def test_scenario_latency_defaults_apply(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(ttft_ms=150)
    _, seen = _arrivals(http, user("x", stream=True))
    assert next(t for t, name in seen if name == "content_block_delta") >= 0.15


def test_json_reply_waits_for_the_whole_generation(http: httpx2.Client) -> None:
    started = time.monotonic()
    response = http.post("/v1/messages", json=user("x [[fake ttft=100 tps=50 tokens=10]]"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3  # 100 ms + 10 tokens at 50/s


def test_tokens_already_due_go_out_in_one_write(http: httpx2.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/messages", json=user("x [[fake ttft=50 tokens=500]]", max_tokens=1000, stream=True))
    assert response.text.count("event: content_block_delta") == 500
    fake.wait_idle()
    record = fake.requests[-1]
    assert record.content_events == 500
    assert record.writes == 2, record  # the preamble at once, then every token (all due at ttft) together


def test_zero_latency_stream_is_one_write(http: httpx2.Client, fake: FakeUpstream) -> None:
    http.post("/v1/messages", json=user("x [[fake tokens=50]]", stream=True))
    fake.wait_idle()
    assert fake.requests[-1].writes == 1


def test_client_leaving_mid_stream_is_detected(http: httpx2.Client, fake: FakeUpstream) -> None:
    body = user("x [[fake tps=50 tokens=300]]", max_tokens=1000, stream=True)
    with http.stream("POST", "/v1/messages", json=body) as response:
        deltas = 0
        for event in httpx2.EventSource(response):
            deltas += event.event == "content_block_delta"
            if deltas == 3:
                break
    fake.wait_idle()
    record = fake.requests[-1]
    assert record.disconnected and not record.completed
    assert 3 <= record.content_events < 300


def test_sdk_stream_closed_early_is_detected(fake: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    content = "x [[fake tps=40 tokens=200]]"
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=500, messages=[{"role": "user", "content": content}]
    ) as s:
        for _ in s.text_stream:
            break
    fake.wait_idle()
    record = fake.requests[-1]
    assert record.disconnected and record.content_events < 200


def test_client_leaving_during_ttft_of_a_json_reply(http: httpx2.Client, fake: FakeUpstream) -> None:
    with pytest.raises(httpx2.ReadTimeout):
        http.post("/v1/messages", json=user("x [[fake ttft=5000]]"), timeout=0.2)
    fake.wait_idle()
    record = fake.requests[-1]
    assert record.disconnected and record.status is None


@pytest.mark.anyio
async def test_async_usage_and_disconnect() -> None:
    async with FakeUpstream(Scenario(tokens_per_s=50)) as fake, httpx2.AsyncClient(base_url=fake.url) as client:
        body = user("x [[fake tokens=200]]", max_tokens=500, stream=True)
        async with client.stream("POST", "/v1/messages", json=body) as response:
            async for event in httpx2.EventSource(response):
                if event.event == "content_block_delta":
                    break
        await fake.wait_idle_async()
        [record] = fake.requests
        assert record.disconnected and 1 <= record.content_events < 200
        reply = await client.post("/v1/messages", json=user("hello [[fake tps=0]]"))
        assert reply.status_code == 200
