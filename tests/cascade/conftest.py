from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream, Scenario


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
def settings(upstream: FakeUpstream) -> Settings:
    return load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-ant-test-0000"})
