"""The lean transport against a raw HTTP/1.1 server on loopback: framing, keep-alive and streaming.

:class:`Upstream` (shared by the ``test_transport_*`` modules) serves real sockets; each test scripts its
answers byte by byte, which is how the cases a friendly server never sends (a dropped keep-alive connection,
a malformed status line, a body cut short) are reached. Every test runs on asyncio and on uvloop.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest

from tiered.providers._transport import LeanTransport


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return ("asyncio", {"loop_factory": uvloop.new_event_loop})
    return "asyncio"


pytestmark = pytest.mark.anyio


@dataclass
class Received:
    """One request as the server read it (header names lowercased, chunked bodies decoded)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection (0, 1, ...) it came on
    index: int  # its position on that connection


Handler = Callable[[Received, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool | None]]


@dataclass
class Upstream:
    """A raw HTTP/1.1 server on 127.0.0.1. ``handler`` answers each request; returning ``False`` closes the
    connection after it. Counts connections and records requests; connection tasks are cancelled on exit."""

    handler: Handler
    ssl: Any = None
    port: int = 0
    connections: int = 0
    ended: int = 0
    requests: list[Received] = field(default_factory=list)
    _server: Any = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"{'https://localhost' if self.ssl else 'http://127.0.0.1'}:{self.port}"

    async def wait_ended(self, count: int) -> None:
        with anyio.fail_after(5):
            while self.ended < count:
                await asyncio.sleep(0.005)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        number = self.connections
        self.connections += 1
        try:
            index = 0
            while True:
                try:
                    request = await read_request(reader, number, index)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(request)
                if await self.handler(request, reader, writer) is False:
                    return
                await writer.drain()
                index += 1
        except asyncio.CancelledError:
            return  # stopped by __aexit__: end quietly (asyncio's stream callback logs a cancelled handler)
        finally:
            self.ended += 1
            writer.close()
            self._tasks.discard(task)


async def read_request(reader: asyncio.StreamReader, connection: int, index: int) -> Received:
    head = await reader.readuntil(b"\r\n\r\n")
    line, *fields = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = line.split(" ")
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    if headers.get("transfer-encoding") == "chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, target, headers, body, connection, index)


def response(body: bytes = b"", status: str = "200 OK", *headers: str, length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, *([f"content-length: {len(body)}"] if length else [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


CHUNKED = "transfer-encoding: chunked"


async def echo(request: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(response(f"{request.method} {request.target} {len(request.body)}".encode()))


def client(*, replay_stale: bool = False, **limits: Any) -> httpx2.AsyncClient:
    transport = LeanTransport(limits=httpx2.Limits(**limits) if limits else None, replay_stale=replay_stale)
    return httpx2.AsyncClient(transport=transport, timeout=5)


def pool(http: httpx2.AsyncClient) -> Any:
    transport = http._transport
    assert isinstance(transport, LeanTransport)
    return transport.pool


# --- bodies and framing ---------------------------------------------------------------------------------------


async def test_content_length_and_chunked_bodies() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        if request.target == "/chunked":
            writer.write(
                response(b"", "200 OK", CHUNKED, length=False) + chunk(b"hello ") + chunk(b"world") + b"0\r\n\r\n"
            )
        else:
            writer.write(response(b'{"ok": true}', "201 Created", "content-type: application/json", "x-id: 7"))

    async with Upstream(handler) as server, client() as http:
        first = await http.post(f"{server.url}/json", json={"a": 1})
        assert first.status_code == 201 and first.reason_phrase == "Created" and first.http_version == "HTTP/1.1"
        assert first.json() == {"ok": True} and first.headers["x-id"] == "7"
        assert (await http.get(f"{server.url}/chunked")).content == b"hello world"
    assert server.requests[0].body == b'{"a":1}' and server.requests[0].headers["content-length"] == "7"
    assert server.connections == 1


async def test_body_framed_by_the_end_of_the_connection() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"until the end", "200 OK", length=False))
        return False

    async with Upstream(handler) as server, client() as http:
        assert (await http.get(server.url)).content == b"until the end"
        assert (await http.get(server.url)).content == b"until the end"
    assert server.connections == 2


async def test_head_204_and_informational_responses_keep_the_connection() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        if request.method == "HEAD":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        elif request.target == "/204":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + response(b"after continue"))

    async with Upstream(handler) as server, client() as http:
        head = await http.head(server.url)
        assert head.status_code == 200 and head.content == b""
        assert (await http.get(f"{server.url}/204")).status_code == 204
        final = await http.get(f"{server.url}/continue")
        assert final.status_code == 200 and final.content == b"after continue"
    assert server.connections == 1


async def test_streamed_request_body_is_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two ", b"three"):
            yield part

    async with Upstream(echo) as server, client() as http:
        reply = await http.post(server.url, content=parts())
        assert reply.content == b"POST / 13"
    assert server.requests[0].headers["transfer-encoding"] == "chunked"
    assert server.requests[0].body == b"one two three"


async def test_a_request_built_with_a_stream_gets_a_host_and_chunks() -> None:
    class Parts(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"no "
            yield b"headers"

    async with Upstream(echo) as server, LeanTransport() as transport:
        reply = await transport.handle_async_request(httpx2.Request("PUT", server.url, stream=Parts()))
        assert await reply.aread() == b"PUT / 10"
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    assert server.requests[0].body == b"no headers"


async def test_large_bodies_both_ways() -> None:
    blob = bytes(range(256)) * (32 * 1024)  # 8 MiB

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        if request.target == "/chunked":
            writer.write(response(b"", "200 OK", CHUNKED, length=False))
            for start in range(0, len(blob), 100_000):
                writer.write(chunk(blob[start : start + 100_000]))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(response(request.body or blob))

    async with Upstream(handler) as server, client() as http:
        assert (await http.get(server.url)).content == blob
        assert (await http.get(f"{server.url}/chunked")).content == blob
        assert (await http.post(server.url, content=blob[::-1])).content == blob[::-1]
    assert server.connections == 1


async def test_content_encoding_is_decoded_by_httpx2_and_none_is_asked_for() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(response(gzip.compress(b"unzipped"), "200 OK", "content-encoding: gzip"))

    async with Upstream(handler) as server, LeanTransport() as transport:
        async with httpx2.AsyncClient(transport=transport) as http:
            assert (await http.get(server.url)).text == "unzipped"
        bare = await transport.handle_async_request(httpx2.Request("GET", server.url))
        await bare.aread()
    assert "accept-encoding" in server.requests[0].headers  # httpx2's client asks for it
    assert "accept-encoding" not in server.requests[1].headers  # the transport adds nothing


async def test_send_without_httpx2_models_reads_bodies_and_decodes_an_encoded_one() -> None:
    """``send`` (what the providers call): the same exchange as ``handle_async_request``, read through an
    ``UpstreamResponse``; a body that comes encoded anyway is decoded by httpx2, and the connection is kept."""

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        if request.target == "/gzip":
            writer.write(response(gzip.compress(b"unzipped"), "200 OK", "content-encoding: gzip"))
        elif request.target == "/chunked":
            writer.write(response(b"", "201 Created", CHUNKED, length=False) + chunk(b"a") + chunk(b"b") + b"0\r\n\r\n")
        else:
            writer.write(response(b"plain", "404 Not Found", "request-id: req_1"))

    async with Upstream(handler) as server, LeanTransport() as transport:
        url = server.url
        sent = [(b"x-test", "caf\u00e9".encode("latin-1"))]
        encoded = await transport.send("POST", httpx2.URL(url + "/gzip"), sent, b"{}", {})
        assert await encoded.aread() == b"unzipped" and encoded.content == b"unzipped"
        assert not encoded.close_now()  # httpx2's response is closed by awaiting it
        await encoded.aclose()
        chunked = await transport.send("POST", httpx2.URL(url + "/chunked"), [], b"x", {})
        assert chunked.status_code == 201 and chunked.reason_phrase == "Created"
        assert [piece async for piece in chunked.aiter_bytes()] == [b"ab"] and chunked.complete
        assert chunked.close_now()
        missing = await transport.send("POST", httpx2.URL(url + "/other"), [], b"", {})
        assert missing.status_code == 404 and missing.headers["request-id"] == "req_1"
        with pytest.raises(RuntimeError, match="aread"):
            _ = missing.content
        assert await missing.aread() == b"plain" and missing.close_now()
    assert server.connections == 1
    first = server.requests[0]
    assert first.headers["x-test"] == "caf\u00e9" and first.headers["content-length"] == "2"
    assert first.headers["host"] == f"127.0.0.1:{server.port}" and "accept-encoding" not in first.headers


# --- keep-alive -------------------------------------------------------------------------------------------------


async def test_connections_are_reused_until_the_server_says_close() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.target == "/close":
            writer.write(response(b"bye", "200 OK", "connection: close"))
            return False
        if request.target == "/http10":
            writer.write(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
            return False
        writer.write(response(b"ok"))
        return True

    async with Upstream(handler) as server, client() as http:
        for _ in range(5):
            assert (await http.get(server.url)).content == b"ok"
        assert server.connections == 1
        assert (await http.get(f"{server.url}/close")).content == b"bye"
        http10 = await http.get(f"{server.url}/http10")
        assert http10.content == b"ok" and http10.http_version == "HTTP/1.0"
        assert (await http.get(server.url)).content == b"ok"
        await server.wait_ended(2)
    assert server.connections == 3


async def test_an_idle_connection_closed_by_the_server_is_not_used() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"ok"))
        return request.target != "/then-close"  # keep-alive announced, then closed: an idle timeout

    async with Upstream(handler) as server, client() as http:
        await http.get(f"{server.url}/then-close")
        origin = (b"http", b"127.0.0.1", server.port)
        with anyio.fail_after(5):  # the loop sees the EOF: no probe of the socket is needed
            while pool(http).idle_connections(origin):
                await asyncio.sleep(0.005)
        assert (await http.get(server.url)).content == b"ok"
    assert server.connections == 2 and len(server.requests) == 2


async def test_a_request_crossing_the_servers_close_is_retried_once() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 0 and request.index == 1:
            return False  # closed as the request arrived: no response at all
        writer.write(response(request.body))
        return True

    async with Upstream(handler) as server, client(replay_stale=True) as http:
        await http.post(server.url, content=b"first")
        assert (await http.post(server.url, content=b"second")).content == b"second"
    assert [r.body for r in server.requests] == [b"first", b"second", b"second"]
    assert server.connections == 2


async def test_by_default_a_request_crossing_the_servers_close_is_left_to_the_caller() -> None:
    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 0 and request.index == 1:
            return False
        writer.write(response(request.body))
        return True

    async with Upstream(handler) as server, client() as http:
        await http.post(server.url, content=b"first")
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(server.url, content=b"second")
    assert [r.body for r in server.requests] == [b"first", b"second"]


# --- streaming ------------------------------------------------------------------------------------------------


async def test_a_stream_is_read_as_it_arrives() -> None:
    go = asyncio.Event()

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b"", "200 OK", "content-type: text/event-stream", CHUNKED, length=False))
        writer.write(chunk(b"data: 1\n\n"))
        await writer.drain()
        await go.wait()  # the second event is sent only once the client has seen the first
        writer.write(chunk(b"data: 2\n\n") + b"0\r\n\r\n")

    async with Upstream(handler) as server, client() as http:
        with anyio.fail_after(5):
            async with http.stream("POST", server.url, json={}) as reply:
                received = []
                async for part in reply.aiter_bytes():
                    received.append(part)
                    go.set()
        assert received == [b"data: 1\n\n", b"data: 2\n\n"]
        assert pool(http).open_connections == 1  # read to the end: kept


async def test_closing_a_stream_early_drops_the_connection() -> None:
    async def handler(request: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"", "200 OK", CHUNKED, length=False) + chunk(b"first"))
        await writer.drain()
        assert await reader.read() == b""  # the client went away
        return False

    async with Upstream(handler) as server, client() as http:
        async with http.stream("GET", server.url) as reply:
            async for part in reply.aiter_raw():
                assert part == b"first"
                break
        await server.wait_ended(1)
        # a healthy connection dropped on purpose is replaced at once, in the background, for the next request
        with anyio.fail_after(5):
            while server.connections < 2 or pool(http).idle_connections((b"http", b"127.0.0.1", server.port)) < 1:
                await asyncio.sleep(0.005)
        assert pool(http).open_connections == 1


async def test_closing_a_stream_another_task_reads_fails_that_read() -> None:
    async def handler(request: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(b"", "200 OK", CHUNKED, length=False) + chunk(b"first"))
        await reader.read()
        return False

    async with Upstream(handler) as server, client() as http, http.stream("GET", server.url) as reply:
        parts = reply.aiter_raw()
        assert await parts.__anext__() == b"first"
        reading = asyncio.ensure_future(parts.__anext__())
        await asyncio.sleep(0.05)  # waiting for more
        await reply.aclose()
        with pytest.raises(httpx2.ReadError, match="closed while"):
            await reading  # not a body silently cut short
        await server.wait_ended(1)


async def test_reading_pauses_while_the_consumer_is_behind() -> None:
    from tiered.providers._h1 import HIGH_WATER

    total = 16 * 1024 * 1024

    async def handler(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b"", "200 OK", f"content-length: {total}", length=False))
        block = b"z" * 65536
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()

    async with Upstream(handler) as server, client() as http, http.stream("GET", server.url) as reply:
        await asyncio.sleep(0.3)  # the server could send megabytes meanwhile
        sizes = [len(part) async for part in reply.aiter_raw()]
    assert sum(sizes) == total
    assert max(sizes) <= HIGH_WATER + 64 * 1024
