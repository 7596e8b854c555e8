from __future__ import annotations

import pytest

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream


@pytest.fixture
def settings(upstream: FakeUpstream) -> Settings:
    return load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-ant-test-0000"})
