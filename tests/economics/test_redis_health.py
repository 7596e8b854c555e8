"""The shared economics state's health through the proxy: ``/readyz`` and the metrics say whether Redis
answers; with Redis down the replica is degraded (it decides from its own state), never failed."""

from __future__ import annotations

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from ..proxy.helpers import proxy_settings

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _ask(proxy: ProxyThread) -> httpx2.Response:
    return httpx2.post(
        f"{proxy.url}/v1/messages",
        headers={"x-api-key": "sk-ant-redis-health", "anthropic-version": "2023-06-01"},
        json={"model": "tiered", "max_tokens": 50, "messages": [{"role": "user", "content": "What is 17 * 23?"}]},
        timeout=30,
    )


def _gauges(proxy: ProxyThread) -> dict[str, float]:
    text = httpx2.get(f"{proxy.url}/metrics", timeout=10).text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_with_redis_reachable_readyz_says_shared(upstream: FakeUpstream, redis_url: str) -> None:
    with ProxyThread(proxy_settings(upstream, TIERED_REDIS_URL=redis_url), use_store=False) as proxy:
        assert _ask(proxy).status_code == 200
        ready = httpx2.get(f"{proxy.url}/readyz", timeout=10)
        gauges = _gauges(proxy)
    assert ready.status_code == 200
    assert ready.json()["economics"] == {"state": "shared", "failures": 0}
    assert gauges["tiered_economics_shared_state_up"] == 1.0
    assert gauges["tiered_economics_shared_state_failures_total"] == 0.0


def test_with_redis_down_readyz_says_degraded_and_no_request_fails(upstream: FakeUpstream) -> None:
    with ProxyThread(proxy_settings(upstream, TIERED_REDIS_URL=CLOSED), use_store=False) as proxy:
        before = httpx2.get(f"{proxy.url}/readyz", timeout=10)  # probes Redis itself: no request needed
        answered = [_ask(proxy) for _ in range(3)]
        after = httpx2.get(f"{proxy.url}/readyz", timeout=10)
        gauges = _gauges(proxy)
    assert [r.status_code for r in answered] == [200, 200, 200]
    for ready in (before, after):
        assert ready.status_code == 200 and ready.json()["status"] == "ready"  # degraded, not failed
        economics = ready.json()["economics"]
        assert economics["state"] == "degraded" and "its own state" in economics["detail"]
    assert after.json()["economics"]["failures"] >= before.json()["economics"]["failures"] >= 1
    assert gauges["tiered_economics_shared_state_up"] == 0.0
    assert gauges["tiered_economics_shared_state_failures_total"] >= 1.0


def test_without_redis_readyz_says_local_and_no_shared_metric(upstream: FakeUpstream) -> None:
    with ProxyThread(proxy_settings(upstream), use_store=False) as proxy:
        ready = httpx2.get(f"{proxy.url}/readyz", timeout=10)
        gauges = _gauges(proxy)
    assert ready.json()["economics"] == {"state": "local"}
    assert "tiered_economics_shared_state_up" not in gauges
