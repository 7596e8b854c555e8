"""Keys mode: the proxy holds the upstream key; clients use virtual keys. Decisions are readable by their
owner and by admins, and are written to the decision store."""

from __future__ import annotations

import time

import anthropic
import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, make_engine
from tiered.store.lookup import load_decision

from .conftest import SERVER_KEY


def ask(proxy: ProxyThread, key: str, text: str = "[[fake confidence=0.9]] hi") -> httpx2.Response:
    return httpx2.post(
        f"{proxy.url}/v1/messages",
        json={"model": "tiered", "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )


def test_virtual_keys(keyed: tuple[ProxyThread, KeyStore], upstream: FakeUpstream) -> None:
    proxy, keys = keyed
    unknown = ask(proxy, "tk-not-a-real-key")
    assert unknown.status_code == 401
    assert "tiered keys create" in unknown.json()["error"]["message"]
    # with a key of its own, the proxy lists the upstream's models at start-up (to check the configured ones)
    messages = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert messages == []

    _, secret = keys.create("app-a")
    ok = ask(proxy, secret)
    assert ok.status_code == 200, ok.text
    (call,) = [r for r in upstream.requests if r.path == "/v1/messages"]
    assert call.headers["x-api-key"] == SERVER_KEY  # the proxy's key goes upstream, never the client's
    assert secret not in str(call.headers)

    client = anthropic.Anthropic(base_url=proxy.url, api_key=secret, max_retries=0)
    assert client.messages.create(model="tiered", max_tokens=100, messages=[{"role": "user", "content": "hi"}]).content


def test_revoked_key_stops_working(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, keys = keyed
    record, secret = keys.create("temp")
    assert ask(proxy, secret).status_code == 200
    keys.revoke(record.id)
    assert ask(proxy, secret).status_code == 401


def test_decision_endpoint_owner_and_admin(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, keys = keyed
    _, owner = keys.create("owner")
    _, other = keys.create("other")
    _, admin = keys.create("ops", admin=True)
    response = ask(proxy, owner, "[[fake haiku:confidence=0.2]] hard")
    decision_id = response.headers["x-tiered-decision-id"]
    url = f"{proxy.url}/v1/tiered/decisions/{decision_id}"
    mine = httpx2.get(url, headers={"x-api-key": owner})
    assert mine.status_code == 200
    body = mine.json()
    assert body["id"] == decision_id and body["escalated"] is True and body["reason"] == "low_confidence"
    assert [a["model"] for a in body["attempts"]] == ["claude-haiku-4-5", "claude-opus-4-7"]
    assert httpx2.get(url, headers={"x-api-key": other}).status_code == 404
    assert httpx2.get(url, headers={"x-api-key": admin}).status_code == 200
    assert httpx2.get(f"{proxy.url}/v1/tiered/decisions/dec_nope", headers={"x-api-key": admin}).status_code == 404


def test_decisions_reach_the_store(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, keys = keyed
    _, secret = keys.create("app")
    ids = [ask(proxy, secret, f"[[fake confidence=0.9]] q{i}").headers["x-tiered-decision-id"] for i in range(5)]
    assert proxy.services is not None
    engine = make_engine(default_database_url())
    deadline = time.monotonic() + 10
    found: list[object] = []
    while time.monotonic() < deadline:
        found = [load_decision(engine, i) for i in ids]
        if all(found):
            break
        time.sleep(0.05)
    engine.dispose()
    assert all(found)
    first = found[0]
    assert isinstance(first, dict) and first["request_text"] is None  # no prompt text by default


def test_health_and_readiness(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, _ = keyed
    assert httpx2.get(f"{proxy.url}/healthz").json() == {"status": "ok"}
    ready = httpx2.get(f"{proxy.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] is True


@pytest.mark.parametrize("prompt", ["[[fake confidence=0.9 tokens=20]] easy", "[[fake haiku:confidence=0.2]] hard"])
def test_a_streams_decision_is_there_as_soon_as_the_stream_has_ended(
    keyed: tuple[ProxyThread, KeyStore], prompt: str
) -> None:
    """The response ends with its last event (the decision is recorded just after): a client that asks at once
    still finds it, on the same connection and on another."""
    proxy, keys = keyed
    _, secret = keys.create("streamer")
    headers = {"x-api-key": secret}
    body = {"model": "tiered", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    with httpx2.Client(base_url=proxy.url, headers=headers) as client:
        for _ in range(3):
            with client.stream("POST", "/v1/messages", json=body) as response:
                raw = b"".join(response.iter_raw())
                decision_id = response.headers["x-tiered-decision-id"]
            assert raw.rstrip().endswith(b'{"type":"message_stop"}')
            assert client.get(f"/v1/tiered/decisions/{decision_id}").status_code == 200
            assert httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers=headers).status_code == 200
