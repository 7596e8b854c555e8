"""Backpressure and per-key limits: fast 429/529 with retry-after instead of a pile-up; rate limits and
budgets counted from the shared store, so they hold across replicas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import httpx2
import pytest
import sqlalchemy as sa

from tiered.config import load_settings, tiered_home
from tiered.errors import OverloadedError
from tiered.fake_upstream import FakeUpstream
from tiered.server import limits
from tiered.server.auth import KeyLimits, Principal
from tiered.server.limits import Admission
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, load_pepper, make_engine, upgrade
from tiered.store.schema import decisions

pytestmark = pytest.mark.anyio


def principal(key: str | None, limits_: KeyLimits | None = None) -> Principal:
    return Principal(key, False, {}, limits_)


async def test_inflight_caps() -> None:
    admission = Admission(max_inflight=3, max_inflight_per_key=2)
    a1 = await admission.enter(principal("a"))
    await admission.enter(principal("a"))
    with pytest.raises(OverloadedError) as per_key:
        await admission.enter(principal("a"))
    assert per_key.value.status == 429 and per_key.value.retry_after == 1.0
    await admission.enter(principal("b"))
    with pytest.raises(OverloadedError) as total:
        await admission.enter(principal("c"))
    assert total.value.status == 529
    admission.leave(a1)
    await admission.enter(principal("a"))


async def test_rate_limit_and_budget_from_counts() -> None:
    counts = {"k": (2, 0.0)}

    def counter(key: str, minute_ago: datetime, since: datetime) -> tuple[int, float]:
        return counts[key]

    admission = Admission(100, 100, counter=counter)
    rpm3 = principal("k", KeyLimits(rate_limit_rpm=3))
    admission.leave(await admission.enter(rpm3))  # 2 in the store + 1 here = 3
    with pytest.raises(OverloadedError) as err:
        await admission.enter(rpm3)
    assert err.value.status == 429 and "3 requests per minute" in err.value.message
    budget = principal("k", KeyLimits(budget_usd=1.0, budget_period="month"))
    admission = Admission(100, 100, counter=counter)
    counts["k"] = (0, 0.4)
    ticket = await admission.enter(budget)
    admission.leave(ticket)
    admission.spent("k", 0.7)
    with pytest.raises(OverloadedError) as spent:
        await admission.enter(budget)
    assert spent.value.status == 429 and "budget of $1.00 per month" in spent.value.message


@pytest.fixture
def shared(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ProxyThread, ProxyThread, KeyStore]]:
    """Two proxy replicas sharing one decision store."""
    monkeypatch.setattr(limits, "REFRESH_S", 0.0)
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-ant-server-0000"})
    engine = make_engine(default_database_url(settings))
    upgrade(engine)
    keys = KeyStore(engine, load_pepper(tiered_home()))
    with ProxyThread(settings) as a, ProxyThread(settings) as b:
        yield a, b, keys
    engine.dispose()


def call(proxy: ProxyThread, key: str) -> httpx2.Response:
    return httpx2.post(
        f"{proxy.url}/v1/messages",
        json={
            "model": "tiered",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "[[fake confidence=0.9]] hi"}],
        },
        headers={"x-api-key": key},
    )


def settle(proxy: ProxyThread) -> None:
    """Wait until the replica's decision writer has reached the database with what it was given."""
    assert proxy.services is not None and proxy.services.engine is not None
    sent = {d.id for d in proxy.decisions().latest(1000)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with proxy.services.engine.connect() as conn:
            stored = {row[0] for row in conn.execute(sa.select(decisions.c.id))}
        if sent <= stored:
            return
        time.sleep(0.02)
    raise AssertionError("the decision writer did not catch up within 10 s")


def test_rate_limit_holds_across_replicas(shared: tuple[ProxyThread, ProxyThread, KeyStore]) -> None:
    a, b, keys = shared
    _, secret = keys.create("limited", rate_limit_rpm=4)
    assert call(a, secret).status_code == 200
    assert call(a, secret).status_code == 200
    settle(a)
    assert call(b, secret).status_code == 200
    assert call(b, secret).status_code == 200
    settle(b)
    refused = call(a, secret)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert int(refused.headers["retry-after"]) >= 1
    assert call(b, secret).status_code == 429


def test_budget_holds_across_replicas(shared: tuple[ProxyThread, ProxyThread, KeyStore]) -> None:
    a, b, keys = shared
    _, secret = keys.create("capped", budget_usd=0.000001, budget_period="day")
    assert call(a, secret).status_code == 200  # spends more than the cap
    settle(a)
    refused = call(b, secret)
    assert refused.status_code == 429 and "budget" in refused.json()["error"]["message"]
