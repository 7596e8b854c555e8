"""The economics tests' shared fixture: a reachable Redis server."""

from __future__ import annotations

import os

import pytest

REDIS_DEFAULT_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis server (``TIERED_TEST_REDIS_URL``); skipped when absent, a failure under CI."""
    import redis

    url = os.environ.get("TIERED_TEST_REDIS_URL", REDIS_DEFAULT_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        message = f"Redis at {url} is unreachable ({type(exc).__name__}: {exc}); set TIERED_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return url
