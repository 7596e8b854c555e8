"""Live per-slice thresholds: a slice with a threshold of its own is judged against it, the rest of its route
against the route's; through the proxy and the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.thread import ProxyThread


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


def ask(proxy: ProxyThread, text: str, user: str, *, stream: bool) -> httpx2.Response:
    body = {
        "model": "tiered",
        "max_tokens": 200,
        "stream": stream,
        "metadata": {"user_id": user},
        "messages": [{"role": "user", "content": text}],
    }
    headers = {"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"}
    return httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=30)


def test_a_slice_threshold_applies_to_its_slice_only(fake: FakeUpstream) -> None:
    overrides = {"routes.default.slice_from": "metadata", "routes.default.threshold": 0.8}
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": fake.url}, overrides=overrides)
    text = '[[fake haiku:confidence=0.7 haiku:answer="cheap"]] q'
    with ProxyThread(settings) as proxy:
        assert proxy.services is not None
        router = proxy.services.router
        router.set_slice_threshold("default", "easy", 0.6)
        assert router.slice_thresholds("default") == {"easy": 0.6}
        for stream in (False, True):
            easy, other = ask(proxy, text, "easy", stream=stream), ask(proxy, text, "other", stream=stream)
            assert easy.status_code == other.status_code == 200
            # 0.7 ships under the slice's 0.6, and escalates under the route's 0.8
            assert easy.headers["x-tiered-escalated"] == "false" and "cheap" in easy.text
            assert other.headers["x-tiered-escalated"] == "true"
        # a route override (the controller's) does not loosen a slice's threshold: the slice keeps its own
        router.set_threshold("default", 0.5)
        assert ask(proxy, text, "easy", stream=False).headers["x-tiered-escalated"] == "false"
        router.set_slice_threshold("default", "easy", 0.75)
        assert ask(proxy, text, "easy", stream=False).headers["x-tiered-escalated"] == "true"
        assert ask(proxy, text, "other", stream=False).headers["x-tiered-escalated"] == "false"
        router.set_slice_threshold("default", "easy", None)
        assert router.slice_thresholds("default") == {}
        assert ask(proxy, text, "easy", stream=False).headers["x-tiered-escalated"] == "false"


def test_the_slice_header_labels_the_decision_and_picks_its_threshold(fake: FakeUpstream) -> None:
    """``slice_from = "header"``: the ``x-tiered-slice`` header reaches the recorder (the decision's slice)
    and the slice's threshold, and is never sent upstream; a header that is not printable ASCII is a 400."""
    overrides = {"routes.default.slice_from": "header", "routes.default.threshold": 0.8}
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": fake.url}, overrides=overrides)
    body = {
        "model": "tiered",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": '[[fake haiku:confidence=0.7 haiku:answer="cheap"]] header'}],
    }
    base = {"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"}
    with ProxyThread(settings) as proxy:
        assert proxy.services is not None
        proxy.services.router.set_slice_threshold("default", "tenant-a", 0.6)
        fake.requests.clear()
        for stream in (False, True):
            labelled = httpx2.post(
                f"{proxy.url}/v1/messages",
                json={**body, "stream": stream},
                headers={**base, "X-Tiered-Slice": "tenant-a"},
                timeout=30,
            )
            plain = httpx2.post(f"{proxy.url}/v1/messages", json={**body, "stream": stream}, headers=base, timeout=30)
            assert labelled.headers["x-tiered-escalated"] == "false"
            assert plain.headers["x-tiered-escalated"] == "true"
            assert proxy.decisions().get(labelled.headers["x-tiered-decision-id"]).slice == "tenant-a"
            assert proxy.decisions().get(plain.headers["x-tiered-decision-id"]).slice is None
        assert fake.requests and all("x-tiered-slice" not in r.headers for r in fake.requests)
        bad = httpx2.post(
            f"{proxy.url}/v1/messages",
            json=body,
            headers=[(k.encode(), v.encode()) for k, v in base.items()]
            + [(b"x-tiered-slice", "caf\u00e9".encode("latin-1"))],
            timeout=30,
        )
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
