"""One fake upstream per test module, reset (scenario, log, counters, batches) before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream, Scenario


@pytest.fixture(scope="module")
def _fake_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake(_fake_server: FakeUpstream) -> FakeUpstream:
    _fake_server.scenario = Scenario()
    _fake_server.reset()
    return _fake_server


@pytest.fixture
def http(fake: FakeUpstream) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=fake.url, timeout=10.0) as client:
        yield client
