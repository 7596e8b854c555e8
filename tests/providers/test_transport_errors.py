"""The lean transport's failures, each raised as httpx2's own exception with the request attached:
malformed responses, bodies cut short, connect, read and write timeouts, refused requests, and the requests
that must not be replayed on a fresh connection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from tiered.providers._transport import LeanTransport

from .test_transport import CHUNKED, Received, Upstream, anyio_backend, chunk, client, pool, response

__all__ = ["anyio_backend"]

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 abc OK\r\n\r\n", b"hello world\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"],
    ids=["bad-status", "not-http", "bad-length"],
)
async def test_malformed_responses_are_protocol_errors(answer: bytes) -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    async with Upstream(handler) as server, client() as http:
        with pytest.raises(httpx2.RemoteProtocolError, match="malformed"):
            await http.get(server.url)
        assert pool(http).open_connections == 0


@pytest.mark.parametrize(
    "answer",
    [
        response(b"short", "200 OK", "content-length: 100", length=False),
        response(b"", "200 OK", CHUNKED, length=False) + chunk(b"part"),
    ],
)
async def test_a_body_cut_short_is_a_protocol_error(answer: bytes) -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer)
        return False

    async with Upstream(handler) as server, client() as http:
        with pytest.raises(httpx2.RemoteProtocolError, match=r"incomplete|complete message body"):
            await http.get(server.url)


async def test_connect_errors_and_timeouts() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")
    # A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(listener.getsockname())
            async with httpx2.AsyncClient(transport=LeanTransport(), timeout=httpx2.Timeout(5, connect=0.2)) as http:
                with pytest.raises(httpx2.ConnectTimeout):
                    await http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
                assert pool(http).open_connections == 0
        finally:
            for filler in fillers:
                filler.close()


async def test_read_timeout_applies_to_each_wait_not_to_the_whole_body() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        if request.target == "/stall":
            await asyncio.sleep(30)
        if request.target == "/quick":
            writer.write(response(b"quick"))
            return
        writer.write(response(b"", "200 OK", CHUNKED, length=False))
        for _ in range(6):
            writer.write(chunk(b"tick"))
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")

    async with Upstream(handler) as server:
        async with httpx2.AsyncClient(transport=LeanTransport(), timeout=0.5) as http:
            assert (await http.get(server.url)).content == b"tick" * 6  # 0.6 s in all
            with pytest.raises(httpx2.ReadTimeout):
                await http.get(f"{server.url}/stall")
            assert pool(http).open_connections == 0  # the stalled connection was dropped, not kept
            assert (await http.get(f"{server.url}/quick")).content == b"quick"
        assert server.connections == 2


async def test_write_timeout_for_a_streamed_body_the_server_does_not_read() -> None:
    stop = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        block = b"w" * (1024 * 1024)
        while True:
            yield block

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    server = await asyncio.start_server(never_reads, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        async with httpx2.AsyncClient(transport=LeanTransport(), timeout=httpx2.Timeout(5, write=0.2)) as http:
            with pytest.raises(httpx2.WriteTimeout):
                await http.post(f"http://127.0.0.1:{port}/", content=endless())
    finally:
        stop.set()
        server.close()
        await asyncio.sleep(0.01)


async def test_header_injection_and_unsupported_schemes_are_refused() -> None:
    async with client() as http:
        with pytest.raises(httpx2.LocalProtocolError):
            await http.get("http://127.0.0.1:9/", headers={"x-evil": "a\r\nx-injected: 1"})
        evil = httpx2.Request("GET", "http://127.0.0.1:9/", headers={"x-evil": "a\nb"})
        with pytest.raises(httpx2.LocalProtocolError) as info:
            await LeanTransport().handle_async_request(evil)
        assert info.value.request is evil
        with pytest.raises(httpx2.UnsupportedProtocol):
            await LeanTransport().handle_async_request(httpx2.Request("GET", "ftp://127.0.0.1/"))


# --- no replay when the server may have seen the request ---------------------------------------------------


async def test_a_connection_lost_after_a_while_is_not_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    from tiered.providers import _h1

    monkeypatch.setattr(_h1, "STALE_WINDOW_S", 0.05)

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.index == 1:
            await asyncio.sleep(0.2)  # it worked on the request, then died: it may have acted on it
            return False
        writer.write(response(b"ok"))
        return True

    async with Upstream(handler) as server, client() as http:
        await http.post(server.url, content=b"first")
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            await http.post(server.url, content=b"second")
    assert [r.body for r in server.requests] == [b"first", b"second"]


async def test_a_streamed_body_is_not_replayed() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.index == 1:
            return False
        writer.write(response(b"ok"))
        return True

    async def parts() -> AsyncIterator[bytes]:
        yield b"once"

    async with Upstream(handler) as server, client() as http:
        await http.get(server.url)
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            await http.post(server.url, content=parts())
    assert len(server.requests) == 2


async def test_a_fresh_connection_closed_without_a_response_is_an_error() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        return False

    async with Upstream(handler) as server, client() as http:
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response") as info:
            await http.post(server.url, content=b"x")
    assert info.value.request.url == server.url
    assert len(server.requests) == 1  # not retried: the server may have acted on it


async def test_read_quietly_waits_for_the_whole_body_with_the_read_timeout_counted_from_the_last_bytes() -> None:
    """``read_quietly`` is not woken per chunk, yet a body that keeps coming does not time out (0.9 s in all
    under a 0.5 s read timeout), and one that stalls does, dropping its connection."""

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b"", "200 OK", CHUNKED, length=False) + chunk(b"head|"))
        await writer.drain()
        for _ in range(6):
            await asyncio.sleep(0.15)
            writer.write(chunk(b"tick"))
            await writer.drain()
        if request.target == "/stall":
            await asyncio.sleep(30)
        writer.write(b"0\r\n\r\n")

    async with Upstream(handler) as server, LeanTransport() as transport:
        timeouts = {"read": 0.5}
        reply = await transport.send("POST", httpx2.URL(server.url), [], b"{}", timeouts)
        first = await anext(reply.aiter_bytes())  # a reader may take a first part one by one, then the rest
        assert first == b"head|"
        wakes = 0
        conn = reply._body._conn  # type: ignore[attr-defined]
        real_wake = conn._wake

        def counted_wake() -> None:
            nonlocal wakes
            wakes += 1
            real_wake()

        conn._wake = counted_wake
        assert await reply.read_quietly() == b"tick" * 6
        assert await reply.read_quietly() == b""
        assert wakes <= 2 and reply.complete and reply.close_now()  # woken at the end, not per chunk
        stalled = await transport.send("POST", httpx2.URL(server.url + "/stall"), [], b"{}", timeouts)

        async def read_to_the_end() -> None:
            while await stalled.read_quietly():
                pass

        with pytest.raises(httpx2.ReadTimeout):
            await read_to_the_end()
        assert not stalled.complete
        await stalled.aclose()
        assert stalled._body._dropped  # type: ignore[attr-defined]  # its connection was dropped, not kept
    assert server.connections == 1  # the body read whole left its connection kept, for the second request
