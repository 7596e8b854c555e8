from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    """Pass-through mode (no upstream key configured): the client's key goes upstream."""
    with ProxyThread(proxy_settings(upstream), use_store=False) as running:
        yield running
