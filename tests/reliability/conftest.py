"""A fake upstream and proxies in front of it, on loopback.

``proxy`` reports a failing final call at once (no retries) and gives up on a silent upstream after one
second, so every fault costs at most about a second, and the circuit breaker never opens (these tests fail
triage calls in a row on purpose); ``retrying_proxy`` keeps the default retry budget (two
retries) to show which failures are retried and which never are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.reliability._rel_helpers import UPSTREAM_TIMEOUT_S

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.thread import ProxyThread


@pytest.fixture
def upstream(fake: FakeUpstream) -> Iterator[FakeUpstream]:
    fake.scenario = Scenario()
    fake.reset()
    yield fake
    fake.wait_idle(10)


def _proxy(fake: FakeUpstream, retries: int) -> ProxyThread:
    settings = load_settings(
        environ={
            "ANTHROPIC_BASE_URL": fake.url,
            "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": str(retries),
            "TIERED_PROVIDERS__ANTHROPIC__TIMEOUT_S": str(UPSTREAM_TIMEOUT_S),
            # every test here fails the triage on purpose: the circuit breaker must not skip the next ones
            "TIERED_BREAKER__FAILURES": "1000000",
        }
    )
    return ProxyThread(settings, use_store=False)


@pytest.fixture(scope="module")
def proxy(fake: FakeUpstream) -> Iterator[ProxyThread]:
    with _proxy(fake, 0) as running:
        yield running
    assert running.error is None


@pytest.fixture(scope="module")
def retrying_proxy(fake: FakeUpstream) -> Iterator[ProxyThread]:
    with _proxy(fake, 2) as running:
        yield running
    assert running.error is None
