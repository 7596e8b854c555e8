from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiered.config import load_settings, tiered_home
from tiered.fake_upstream import FakeUpstream
from tiered.server import auth
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, load_pepper, make_engine, upgrade

from .helpers import proxy_settings


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    """Pass-through mode (no upstream key configured): the client's key goes upstream."""
    with ProxyThread(proxy_settings(upstream), use_store=False) as running:
        yield running


SERVER_KEY = "sk-ant-server-secret-abcdef"


@pytest.fixture
def keyed(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ProxyThread, KeyStore]]:
    """Keys mode: the proxy holds the upstream key, clients use virtual keys, decisions go to the store."""
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": SERVER_KEY})
    engine = make_engine(default_database_url(settings))
    upgrade(engine)
    keys = KeyStore(engine, load_pepper(tiered_home()))
    with ProxyThread(settings) as proxy:
        yield proxy, keys
    engine.dispose()
