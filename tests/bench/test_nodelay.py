"""The harness's own sockets run with Nagle's algorithm off (TCP_NODELAY); no timing is asserted."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from bench.harness.jobs import Call, Target
from bench.harness.loadgen import _Client
from bench.harness.nodelay import NoDelayHTTPConnection, http_request
from bench.harness.scenarios import API_HEADERS, body, overhead_scenarios

from tiered.fake_upstream import FakeUpstream


def _nodelay(sock: Any) -> int:
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_load_generator_connections_turn_nagle_off_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncio sets TCP_NODELAY on its TCP transports; with that switched off, the load generator's clients
    must still set it, as they say they do."""
    import asyncio.base_events

    monkeypatch.setattr(asyncio.base_events, "_set_nodelay", lambda sock: None)

    async def one(url: str) -> int:
        request = body(overhead_scenarios()["passthrough"], stream=False)
        client = _Client(Target("direct", (Call(url, request, dict(API_HEADERS)),)), 2, 10.0)
        try:
            response = await client.http.post(url, content=client.payloads[0], headers=client.headers[0])
            assert response.status_code == 200
            return _nodelay(response.extensions["network_stream"].get_extra_info("socket"))
        finally:
            await client.aclose()

    with FakeUpstream() as fake:
        assert asyncio.run(one(fake.url + "/v1/messages")) == 1


def test_probe_and_readiness_connections_turn_nagle_off() -> None:
    with FakeUpstream() as fake:
        host, port = fake.url.removeprefix("http://").split(":")
        connection = NoDelayHTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/_fake/health")
            assert connection.getresponse().status == 200
            assert connection.sock is not None and _nodelay(connection.sock) == 1
        finally:
            connection.close()
        status, headers, raw = http_request("GET", fake.url + "/_fake/requests")
        assert status == 200 and headers["content-type"].startswith("application/json") and raw.startswith(b"[")
    with pytest.raises(ValueError, match="plain HTTP"):
        http_request("GET", "https://127.0.0.1:1/")
