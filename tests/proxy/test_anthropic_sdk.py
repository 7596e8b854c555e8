"""The official anthropic SDK, pointed at the proxy, works unchanged: shipped and escalated, JSON and stream."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings

KEY = "sk-ant-client-key-1234"


def client(proxy: ProxyThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


def test_create_shipped(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).messages.with_raw_response.create(
        model="tiered",
        max_tokens=300,
        messages=[{"role": "user", "content": '[[fake confidence=0.92 answer="Four."]] What is 2+2?'}],
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "Four."
    assert message.model.startswith("claude-haiku-4-5") and message.stop_reason == "end_turn"
    h = raw.headers
    assert h["x-tiered-route"] == "default" and h["x-tiered-model"] == "claude-haiku-4-5"
    assert h["x-tiered-escalated"] == "false" and h["x-tiered-confidence"] == "0.92"
    assert h["x-tiered-reason"] == "" and float(h["x-tiered-cost-usd"]) > 0
    assert h["x-tiered-decision-id"].startswith("dec_")
    (call,) = upstream.requests
    # pass-through: the client's own key goes upstream, as the client sent it
    assert call.headers.get("x-api-key") == KEY or call.headers.get("authorization") == f"Bearer {KEY}"
    assert call.headers["anthropic-version"] == raw.http_request.headers["anthropic-version"]


def test_create_escalated_replays_body(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).messages.with_raw_response.create(
        model="tiered",
        max_tokens=300,
        system="Be brief.",
        messages=[{"role": "user", "content": "[[fake haiku:confidence=0.2]] Derive it."}],
        extra_headers={"anthropic-beta": "some-beta-2025-01-01"},
    )
    message = raw.parse()
    assert message.model.startswith("claude-opus-4-7")
    assert raw.headers["x-tiered-escalated"] == "true" and raw.headers["x-tiered-reason"] == "low_confidence"
    assert raw.headers["x-tiered-confidence"] == "0.2"  # the triage's, which is why it escalated
    triage, final = upstream.requests
    assert final.body == {
        "model": "claude-opus-4-7",
        "max_tokens": 300,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "[[fake haiku:confidence=0.2]] Derive it."}],
    }
    assert final.headers["anthropic-beta"] == "some-beta-2025-01-01"
    assert triage.headers["anthropic-beta"] == "some-beta-2025-01-01"


@pytest.mark.parametrize(
    ("directive", "model"), [("confidence=0.95", "claude-haiku-4-5"), ("haiku:confidence=0.1", "claude-opus-4-7")]
)
def test_stream_text_and_final_message(proxy: ProxyThread, upstream: FakeUpstream, directive: str, model: str) -> None:
    with client(proxy).messages.stream(
        model="tiered",
        max_tokens=500,
        messages=[{"role": "user", "content": f"[[fake {directive} tokens=60]] Tell me something."}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert text and final.content[0].text == text
    assert final.model.startswith(model)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_passthrough_model(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"temperature": 0.3},
    )
    assert raw.parse().model.startswith("claude-sonnet-4-6")
    assert raw.headers["x-tiered-route"] == "passthrough" and raw.headers["x-tiered-escalated"] == "false"
    (call,) = upstream.requests
    assert not call.is_triage and call.body["temperature"] == 0.3


def test_count_tokens_and_models(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    c = client(proxy)
    count = c.messages.count_tokens(model="tiered", messages=[{"role": "user", "content": "hello there"}])
    assert count.input_tokens > 0
    assert upstream.requests[-1].body["model"] == "claude-opus-4-7"
    ids = [m.id for m in c.models.list()]
    assert ids[:3] == ["tiered", "tiered/default", "tiered/three-tier"]
    assert "claude-haiku-4-5" in ids


def test_errors_in_the_api_shape(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    c = client(proxy)
    with pytest.raises(anthropic.BadRequestError) as err:
        c.messages.create(model="tiered/nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert "unknown route 'nope'" in str(err.value)
    with pytest.raises(anthropic.BadRequestError) as err:
        c.messages.create(model="tiered", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert "max_tokens" in str(err.value)
    # an upstream error reaches the client with its status, error JSON, retry-after and request id
    with pytest.raises(anthropic.RateLimitError) as limited:
        c.messages.create(
            model="claude-opus-4-7",
            max_tokens=10,
            messages=[{"role": "user", "content": "[[fake fault=rate_limit retry_after=61]]"}],
        )
    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "61"
    assert limited.value.request_id and limited.value.request_id.startswith("req_")
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert len(upstream.requests) == 1  # a wait over the retry limit is not made
    missing = httpx2.post(
        f"{proxy.url}/v1/messages",
        json={"model": "tiered", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"


def test_bad_bodies_get_typed_errors(proxy: ProxyThread) -> None:
    headers = {"x-api-key": KEY, "content-type": "application/json"}
    url = f"{proxy.url}/v1/messages"
    cases = [
        (b"{not json", 400, "invalid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"", 400, "empty"),
        (b'{"model": "tiered", "max_tokens": 5, "messages": "hi"}', 400, "messages"),
        (
            b'{"model": "tiered", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}',
            400,
            "messages.0.role",
        ),
        (b'{"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        (b"\xff\xfe{}", 400, "request body"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "request body"),
    ]
    for body, status, needle in cases:
        response = httpx2.post(url, content=body, headers=headers)
        assert response.status_code == status, (body[:40], response.text)
        error = response.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert needle in error["error"]["message"], (needle, error)
    wrong_type = httpx2.post(url, content=b"model=tiered", headers={**headers, "content-type": "text/plain"})
    assert wrong_type.status_code == 400 and "content-type" in wrong_type.json()["error"]["message"]


def test_body_over_the_limit_is_refused(upstream: FakeUpstream) -> None:
    settings = proxy_settings(upstream, TIERED_SERVER__MAX_BODY_BYTES="1000")
    with ProxyThread(settings, use_store=False) as small:
        body = {"model": "tiered", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 2000}]}
        response = httpx2.post(f"{small.url}/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert upstream.requests == []
