from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


@pytest.fixture
def upstream(fake: FakeUpstream) -> Iterator[FakeUpstream]:
    fake.scenario = Scenario()
    fake.reset()
    yield fake
    fake.wait_idle()


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    """Pass-through mode (no upstream key configured): the client's key goes upstream."""
    with ProxyThread(proxy_settings(upstream), use_store=False) as running:
        yield running
