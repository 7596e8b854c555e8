"""Graceful shutdown finishes in-flight requests; a client that goes away cancels its upstream calls; the
OpenAI endpoint cuts a low-confidence triage early, like /v1/messages."""

from __future__ import annotations

import threading
import time

import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings

BODY = {
    "model": "tiered",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "[[fake confidence=0.9 ttft=800]] slow"}],
}


def test_graceful_shutdown_finishes_in_flight_requests(upstream: FakeUpstream) -> None:
    proxy = ProxyThread(proxy_settings(upstream), use_store=False).start()
    result: dict[str, httpx2.Response] = {}

    def call() -> None:
        result["response"] = httpx2.post(f"{proxy.url}/v1/messages", json=BODY, headers={"x-api-key": "k"}, timeout=30)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 5
    while not upstream.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    proxy.stop()  # while the request waits on the upstream
    worker.join(30)
    assert result["response"].status_code == 200
    assert result["response"].json()["content"][0]["text"]


def test_client_disconnect_cancels_the_upstream_call(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    body = {
        **BODY,
        "messages": [{"role": "user", "content": "[[fake haiku:confidence=0.1 opus:ttft=3000]] slow final"}],
    }
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(
            f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": "k"}, timeout=httpx2.Timeout(5, read=0.7)
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = upstream.requests
        if len(records) == 2 and records[1].disconnected:
            break
        time.sleep(0.05)
    final = upstream.requests[1]
    assert final.model == "claude-opus-4-7" and final.disconnected and not final.completed
    latest = proxy.decisions().latest(1)
    assert latest and latest[0].error_status == 499


def test_openai_stream_cuts_the_triage_early(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    long_answer = "word " * 300
    prompt = f'[[fake haiku:confidence=0.2 haiku:answer="{long_answer}" haiku:tps=200 opus:tokens=5]] q'
    with httpx2.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json={"model": "tiered", "stream": True, "messages": [{"role": "user", "content": prompt}]},
        headers={"authorization": "Bearer k"},
        timeout=30,
    ) as response:
        assert response.headers["x-tiered-escalated"] == "true"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    upstream.wait_idle()
    triage = upstream.requests[0]
    assert triage.is_triage and triage.disconnected and triage.content_events < 20


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_a_client_leaving_a_stream_cancels_the_relay_and_is_recorded(
    path: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    prompt = "[[fake haiku:confidence=0.1 opus:tokens=3000 opus:tps=200]] a long final answer"
    with httpx2.stream(
        "POST",
        f"{proxy.url}{path}",
        json={**BODY, "stream": True, "messages": [{"role": "user", "content": prompt}]},
        headers={"x-api-key": "k", "authorization": "Bearer k"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        first = next(response.iter_raw())
        assert first
    # the connection is closed with most of the answer unsent
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (len(upstream.requests) == 2 and upstream.requests[1].disconnected):
        time.sleep(0.05)
    final = upstream.requests[1]
    assert final.model == "claude-opus-4-7" and final.disconnected and not final.completed
    decision = proxy.decisions().get(response.headers["x-tiered-decision-id"])
    while decision is None and time.monotonic() < deadline:
        time.sleep(0.05)
        decision = proxy.decisions().get(response.headers["x-tiered-decision-id"])
    assert decision is not None and decision.error_status == 499
