"""The circuit breaker counts the upstream's health only, through the real proxy over loopback.

Regression for issue #16, item 3: every failed triage counted toward the breaker, ``invalid_request_error``
included, so eight requests that only the cheap tier rejects made the next caller's plain request skip triage
and pay the final tier. A 4xx on a triage now escalates that one request (reason ``cheap_tier_rejected``, the
upstream's message, status and request id kept on the attempt, counted in ``tiered_triage_rejected_total``)
and never opens a circuit; 429, 5xx and 529 still do.

The fake upstream has no scripted 400 yet, so the cheap tier's rejection comes from a transport between the
proxy and the fake: it answers a triage call for a marked prompt with the 400 the real API sends for a
request it cannot take (shape: https://platform.claude.com/docs/en/api/errors), and passes every other call
through to the fake unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import anthropic
import httpx2
import pytest
from _rel_helpers import HEADERS, ask, model_calls
from tests._sse import sse_events

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

HAIKU: Final = "claude-haiku-4-5"
OPUS: Final = "claude-opus-4-7"
MARK: Final = "[reject-on-haiku]"
UPSTREAM_MESSAGE: Final = "messages.0.content.0: this model does not support the requested feature"
FAILURES: Final = 5  # the breaker's default: ``breaker.failures``


class RejectingTransport(httpx2.AsyncBaseTransport):
    """Answers the cheap tier's calls for a marked prompt with a 400 ``invalid_request_error``; passes every
    other call through to the real network (the fake on loopback)."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.rejected = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/v1/messages"):
            body = json.loads(await request.aread())
            if body.get("model") == HAIKU and MARK in json.dumps(body.get("messages")):
                self.rejected += 1
                error = {"type": "error", "error": {"type": "invalid_request_error", "message": UPSTREAM_MESSAGE}}
                headers = {"request-id": f"req_rejected_{self.rejected}", "content-type": "application/json"}
                return httpx2.Response(400, headers=headers, content=json.dumps(error).encode())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def transport() -> RejectingTransport:
    return RejectingTransport()


@pytest.fixture
def proxy(fake: FakeUpstream, transport: RejectingTransport) -> Iterator[ProxyThread]:
    """The default breaker (five failures in a row open a circuit), no retries: each fault is one call."""
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": fake.url, "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0"})
    with ProxyThread(settings, transport=transport, use_store=False) as running:
        yield running
    assert running.error is None


def post(proxy: ProxyThread, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(proxy.url + "/v1/messages", json=body, headers=HEADERS, timeout=30)


def decision(proxy: ProxyThread, response: httpx2.Response) -> Any:
    found = proxy.decisions().get(response.headers["x-tiered-decision-id"])
    assert found is not None
    return found


def metric(proxy: ProxyThread, name: str) -> str:
    return "\n".join(line for line in httpx2.get(proxy.url + "/metrics").text.splitlines() if line.startswith(name))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_requests_the_cheap_tier_rejects_never_open_its_circuit(
    stream: bool, proxy: ProxyThread, upstream: FakeUpstream, transport: RejectingTransport
) -> None:
    for n in range(8):
        response = post(proxy, ask(f"{MARK} question {n}", stream=stream))
        assert response.status_code == 200, response.text[:400]
        assert response.headers["x-tiered-escalated"] == "true"
        assert response.headers["x-tiered-reason"] == "cheap_tier_rejected"
        if stream:
            assert [name for name, _ in sse_events(response.content)][-1] == "message_stop"
        triage, final = decision(proxy, response).attempts
        assert triage.outcome.value == "error" and triage.reason.value == "cheap_tier_rejected"
        assert triage.status == 400 and triage.request_id == f"req_rejected_{n + 1}"
        assert UPSTREAM_MESSAGE in triage.error and "invalid_request_error" in triage.error
        assert final.model == OPUS and final.outcome.value == "answered"
    assert transport.rejected == 8
    upstream.reset()
    response = post(proxy, ask('[[fake confidence=0.95 answer="Four."]] what is 2 + 2?', stream=stream))
    assert response.status_code == 200
    assert response.headers["x-tiered-escalated"] == "false"  # triaged, and shipped: the circuit is closed
    assert response.headers["x-tiered-model"] == HAIKU
    assert [call.model for call in model_calls(upstream, HAIKU)] == [HAIKU]
    assert 'tiered_triage_rejected_total{model="claude-haiku-4-5",route="default",status="400"} 8.0' in metric(
        proxy, "tiered_triage_rejected_total"
    )


def test_the_sdk_sees_rejected_triages_escalate(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    with anthropic.Anthropic(base_url=proxy.url, api_key=HEADERS["x-api-key"], max_retries=0) as client:
        for n in range(FAILURES + 3):
            raw = client.messages.with_raw_response.create(
                model="tiered", max_tokens=50, messages=[{"role": "user", "content": f"{MARK} q{n}"}]
            )
            assert raw.parse().model.startswith(OPUS)
            assert raw.headers["x-tiered-reason"] == "cheap_tier_rejected"
        with client.messages.stream(
            model="tiered",
            max_tokens=50,
            messages=[{"role": "user", "content": '[[fake confidence=0.95 answer="Four."]] 2 + 2?'}],
        ) as stream:
            message = stream.get_final_message()
    assert message.model.startswith(HAIKU) and message.content[0].type == "text"


def test_health_failures_still_open_the_circuit(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    for n in range(FAILURES):
        response = post(proxy, ask(f"[[fake haiku:fault=overloaded]] q{n}"))
        assert response.headers["x-tiered-reason"] == "upstream_error"
    upstream.reset()
    response = post(proxy, ask("[[fake confidence=0.95]] q"))
    assert response.headers["x-tiered-reason"] == "upstream_error"
    assert [a.outcome.value for a in decision(proxy, response).attempts] == ["skipped", "answered"]
    assert model_calls(upstream, HAIKU) == []


def test_rejections_between_health_failures_do_not_reset_or_add_to_the_count(
    proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    for n in range(FAILURES - 1):
        post(proxy, ask(f"[[fake haiku:fault=api_error]] q{n}"))
        post(proxy, ask(f"{MARK} q{n}"))
    assert post(proxy, ask("[[fake haiku:fault=api_error]] last")).headers["x-tiered-reason"] == "upstream_error"
    upstream.reset()
    response = post(proxy, ask("[[fake confidence=0.95]] q"))
    assert [a.outcome.value for a in decision(proxy, response).attempts] == ["skipped", "answered"]
