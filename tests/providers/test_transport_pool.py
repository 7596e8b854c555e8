"""The lean transport's pool: limits, waiting for a connection, idle bounds and expiry, closing, event loops,
and when :func:`lean_transport_or_default` steps aside for a proxy."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import anyio
import httpx2
import pytest

from tiered.providers._transport import LeanTransport, lean_transport_or_default

from .test_transport import Received, Upstream, anyio_backend, client, echo, pool, response

__all__ = ["anyio_backend"]  # the asyncio + uvloop parametrization, shared

pytestmark = pytest.mark.anyio


async def test_a_request_waits_for_a_connection_when_the_pool_is_full() -> None:
    full = client(max_connections=1, max_keepalive_connections=1)
    async with Upstream(echo) as server, full as http, http.stream("GET", f"{server.url}/held") as held:
        with pytest.raises(httpx2.PoolTimeout, match="raise max_connections"):
            await http.get(server.url, timeout=httpx2.Timeout(5, pool=0.05))
        waiting = asyncio.ensure_future(http.get(f"{server.url}/waited", timeout=httpx2.Timeout(5, pool=5)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await held.aread()  # read to the end: the connection goes back, to the waiting request
        assert (await waiting).content == b"GET /waited 0"
    assert server.connections == 1


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    async with Upstream(echo) as server, client(max_connections=1, max_keepalive_connections=1) as http:
        async with http.stream("GET", server.url) as held:
            first = asyncio.ensure_future(http.get(f"{server.url}/first"))
            second = asyncio.ensure_future(http.get(f"{server.url}/second"))
            await asyncio.sleep(0.05)
            first.cancel()
            await held.aread()
        with anyio.fail_after(5):
            assert (await second).content == b"GET /second 0"
        assert first.cancelled()


async def test_concurrent_requests_stay_within_max_connections() -> None:
    in_flight = peak = 0

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        writer.write(response(request.target.encode()))

    async with Upstream(handler) as server, client(max_connections=5, max_keepalive_connections=5) as http:
        replies = await asyncio.gather(*(http.get(f"{server.url}/{i}") for i in range(60)))
    assert [reply.content for reply in replies] == [f"/{i}".encode() for i in range(60)]
    assert server.connections <= 5 and peak <= 5


async def test_many_concurrent_requests_and_the_idle_bound() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)  # all of them in flight at once
        writer.write(response(request.target.encode()))

    async with Upstream(handler) as server, client(max_connections=None, max_keepalive_connections=20) as http:
        replies = await asyncio.gather(*(http.get(f"{server.url}/{i}") for i in range(150)))
        assert [reply.content for reply in replies] == [f"/{i}".encode() for i in range(150)]
        assert server.connections == 150
        origin = (b"http", b"127.0.0.1", server.port)
        assert pool(http).idle_connections(origin) == 20
        await server.wait_ended(130)  # the others were closed, not leaked
        assert pool(http).open_connections == 20


async def test_a_full_pool_closes_an_idle_connection_of_another_origin() -> None:
    async with Upstream(echo) as first, Upstream(echo) as second, client(max_connections=1) as http:
        await http.get(first.url)
        with anyio.fail_after(5):
            assert (await http.get(second.url, timeout=httpx2.Timeout(5, pool=0.05))).status_code == 200
        await first.wait_ended(1)


async def test_idle_connections_expire() -> None:
    async with Upstream(echo) as server:
        limits = httpx2.Limits(max_keepalive_connections=10, keepalive_expiry=0.25)
        async with httpx2.AsyncClient(transport=LeanTransport(limits=limits)) as http:
            await http.get(server.url)
            await http.get(server.url)
            assert server.connections == 1
            await asyncio.sleep(0.5)
            await http.get(server.url)
            assert server.connections == 2
            await server.wait_ended(1)


async def test_no_keepalive_closes_every_connection() -> None:
    async with Upstream(echo) as server, client(max_keepalive_connections=0) as http:
        await http.get(server.url)
        await http.get(server.url)
        await server.wait_ended(2)
    assert server.connections == 2


async def test_aclose_closes_idle_connections_and_later_released_ones() -> None:
    async with Upstream(echo) as server:
        transport = LeanTransport()
        http = httpx2.AsyncClient(transport=transport)
        await asyncio.gather(http.get(server.url), http.get(server.url))
        async with http.stream("GET", server.url) as held:  # takes one of the two idle connections
            await transport.aclose()
            await server.wait_ended(1)  # the idle one at once
            await held.aread()
        await server.wait_ended(2)  # the one in use once its response was done
        assert transport.pool.open_connections == 0
        await http.aclose()


def test_a_transport_moves_to_a_new_event_loop(anyio_backend: Any) -> None:
    """A transport outliving its loop (a sync wrapper running one loop per call) starts afresh on the next."""
    transport = LeanTransport()
    options = anyio_backend[1] if isinstance(anyio_backend, tuple) else {}

    async def one_loop() -> bytes:
        async with Upstream(echo) as server:
            reply = await httpx2.AsyncClient(transport=transport).get(server.url)
            assert transport.pool.open_connections == 1
            return reply.content

    for _ in range(2):
        with asyncio.Runner(loop_factory=options.get("loop_factory")) as runner:
            assert runner.run(one_loop()) == b"GET / 0"


# --- lean_transport_or_default --------------------------------------------------------------------------------

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "base_url", "lean"),
    [
        ({}, "https://api.anthropic.com", True),
        ({}, None, True),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.anthropic.com", False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8787", True),
        ({"HTTPS_PROXY": "http://proxy:3128"}, None, False),
        ({"http_proxy": "http://proxy:3128"}, "http://vllm.internal:8000/v1", False),
        ({"ALL_PROXY": "socks5://proxy:1080"}, "http://127.0.0.1:8787", False),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "api.anthropic.com"}, "https://api.anthropic.com", True),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "other.example"}, "https://api.anthropic.com", False),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "*"}, None, True),
    ],
)
def test_lean_transport_or_default_steps_aside_for_proxies(
    proxy_env: pytest.MonkeyPatch, env: dict[str, str], base_url: str | None, lean: bool
) -> None:
    for name, value in env.items():
        proxy_env.setenv(name, value)
    chosen = lean_transport_or_default(base_url)
    assert isinstance(chosen, LeanTransport) if lean else chosen is None


def test_lean_transport_or_default_ignores_proxies_without_trust_env(proxy_env: pytest.MonkeyPatch) -> None:
    proxy_env.setenv("ALL_PROXY", "http://proxy:3128")
    assert isinstance(lean_transport_or_default("https://api.anthropic.com", trust_env=False), LeanTransport)


def test_lean_transport_or_default_needs_httptools(proxy_env: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    proxy_env.setattr(importlib.util, "find_spec", lambda name: None if name == "httptools" else real(name))
    assert lean_transport_or_default("https://api.anthropic.com") is None


def test_limits_are_taken_from_httpx2_limits() -> None:
    transport = LeanTransport(limits=httpx2.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=9))
    assert transport.pool.max_connections == 7 and transport.pool.max_idle_per_origin == 3
    assert transport.pool.idle_expiry_s == 9
    unbounded = LeanTransport(limits=httpx2.Limits(max_connections=None, max_keepalive_connections=None))
    assert unbounded.pool.max_connections is None and unbounded.pool.max_idle_per_origin == sys.maxsize


async def _settled(http: Any, expected_open: int) -> None:
    with anyio.fail_after(5):
        while pool(http).open_connections != expected_open or pool(http)._replacing:
            await asyncio.sleep(0.005)


async def test_a_stream_left_early_is_replaced_once_and_only_when_needed() -> None:
    async def slow(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b"", "200 OK", "transfer-encoding: chunked", length=False) + b"5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    async with Upstream(slow) as server, client(max_connections=2, max_keepalive_connections=2) as http:
        origin = (b"http", b"127.0.0.1", server.port)
        async with http.stream("GET", server.url) as reply:
            await anext(reply.aiter_raw())
        await _settled(http, 1)  # the dropped connection's replacement waits, idle
        assert pool(http).idle_connections(origin) == 1 and server.connections == 2
        # the next stream takes the replacement; left early too, it is replaced in turn
        async with http.stream("GET", server.url) as reply:
            await anext(reply.aiter_raw())
        await _settled(http, 1)
        assert server.connections == 3
        # with a connection idle already, a drop is not replaced; with the pool full, neither
        pool(http).replace(origin)
        await _settled(http, 1)
        assert server.connections == 3
        async with http.stream("GET", server.url) as held, http.stream("GET", server.url) as other:
            await anext(held.aiter_raw())
            await anext(other.aiter_raw())
            assert pool(http).open_connections == 2
            pool(http).replace(origin)
            assert pool(http).open_connections == 2 and not pool(http)._replacing


async def test_a_replacement_that_cannot_connect_gives_its_place_back_quietly() -> None:
    async with client() as http:
        transport_pool = pool(http)
        transport_pool._bind(asyncio.get_running_loop())  # as a first request would
        transport_pool.replace((b"http", b"127.0.0.1", 1))  # nothing listens on port 1
        assert transport_pool.open_connections == 1
        await _settled(http, 0)
