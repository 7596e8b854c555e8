"""The request-head bound, read by read: the protocol fed exactly the reads a socket could deliver.

A head over ``MAX_HEAD_BYTES`` is answered 431 before any application code runs, however its bytes are split;
body bytes never count toward it, however a read splits or joins messages (issue #16: a read that held a whole
request, head and body, was counted as head, so long prompts on a kept-alive connection got random 431s).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterable
from typing import Any, Final

import pytest
import uvicorn
from tests._transport import RecordingTransport as Transport
from uvicorn.server import ServerState

from tiered.fake_upstream import FakeUpstream
from tiered.server.head_bound import HeadBound
from tiered.server.protocol import MAX_HEAD_BYTES, TieredHttpProtocol
from tiered.server.thread import ProxyThread

BIG_BODY: Final = b"x" * 150_000


class App:
    """Answers every request with the length of its body; remembers what it saw."""

    def __init__(self) -> None:
        self.bodies: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(len(body))
        reply = str(len(body)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(reply))]})
        await send({"type": "http.response.body", "body": reply})


def request(body: bytes = b"{}", *, extra: bytes = b"") -> bytes:
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: tiered\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def padding(size: int, name: bytes = b"x-padding") -> bytes:
    return name + b": " + b"a" * size + b"\r\n"


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def feed(reads: Iterable[bytes]) -> tuple[App, Transport]:
    app = App()
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    protocol = TieredHttpProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    for data in reads:
        protocol.data_received(data)
        for _ in range(20):  # let the request's task run (and answer) before the next read
            await asyncio.sleep(0)
    protocol.connection_lost(None)
    return app, transport


def statuses(written: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", written)]


@pytest.mark.anyio
async def test_a_whole_request_in_each_read_is_never_refused() -> None:
    app, transport = await feed([request(BIG_BODY)] * 5)
    assert statuses(transport.written) == [200] * 5
    assert app.bodies == [len(BIG_BODY)] * 5


@pytest.mark.anyio
async def test_a_body_never_counts_however_reads_split_it() -> None:
    stream = request(BIG_BODY) + request(BIG_BODY[:70_000]) + request()
    for size in (1_000, 65_536, 100_003, 262_144):
        app, transport = await feed(pieces(stream, size))
        assert statuses(transport.written) == [200] * 3, size
        assert app.bodies == [150_000, 70_000, 2]


@pytest.mark.anyio
async def test_a_head_just_under_the_limit_passes_in_small_reads() -> None:
    extra = padding(30_000) + padding(30_000, b"x-more")  # one field spans many reads
    app, transport = await feed(pieces(request(extra=extra), 997))
    assert statuses(transport.written) == [200]
    assert app.bodies == [2]


@pytest.mark.anyio
@pytest.mark.parametrize("read", [997, 16_384, 300_000])
async def test_an_oversized_head_is_refused_however_it_arrives(read: int) -> None:
    app, transport = await feed(pieces(request(extra=padding(MAX_HEAD_BYTES)), read))
    assert statuses(transport.written) == [431]
    assert b'"invalid_request_error"' in transport.written and transport.eof
    assert app.bodies == []


@pytest.mark.anyio
async def test_a_head_that_never_ends_is_refused_early() -> None:
    reads = [b"POST /v1/messages HTTP/1.1\r\nx-padding: "] + [b"a" * 1_000] * 200
    app, transport = await feed(reads)
    assert statuses(transport.written) == [431]
    assert app.bodies == []


@pytest.mark.anyio
async def test_many_small_fields_over_the_limit_are_refused() -> None:
    extra = b"".join(b"x-h%d: v\r\n" % n for n in range(MAX_HEAD_BYTES // 8))
    app, transport = await feed([request(extra=extra)])
    assert statuses(transport.written) == [431]
    assert app.bodies == []


@pytest.mark.anyio
async def test_a_refusal_after_a_pipelined_request_waits_for_its_answer() -> None:
    app, transport = await feed([request(BIG_BODY) + request(extra=padding(MAX_HEAD_BYTES))])
    assert statuses(transport.written) == [200, 431]
    assert app.bodies == [len(BIG_BODY)]


def never_asked() -> int:
    raise AssertionError("the parsed size was asked for")


def test_the_bound_counts_only_reads_inside_an_open_head() -> None:
    bound = HeadBound(100)
    bound.read_begins(1_000)
    bound.message_begins()
    assert not bound.read_ends()  # the read that began the message may hold a previous body
    bound.read_begins(60)
    assert not bound.read_ends()  # all head
    assert bound.size == 60
    bound.read_begins(50)
    assert bound.read_ends()  # all head: 110 > 100
    bound.read_begins(10_000)
    bound.message_begins()  # a new message resets both counts
    assert bound.size == 0
    assert not bound.head_ends(lambda: 94)  # the read is over the limit: the parsed size decides
    assert bound.size == 94
    bound.message_ends()
    assert not bound.read_ends()  # a whole message in one read: nothing counted
    bound.read_begins(80)
    bound.message_begins()
    assert not bound.head_ends(never_asked)  # an 80-byte read holds less than 100 bytes of head


# -- on the wire: the real proxy over loopback -------------------------------------------------------------


def exchange(proxy: ProxyThread, data: bytes) -> bytes:
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def wire_request(extra: bytes) -> bytes:
    body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
    head = b"x-api-key: sk-ant-head-bound\r\nanthropic-version: 2023-06-01\r\nconnection: close\r\n" + extra
    return request(body.encode(), extra=head)


def test_an_oversized_head_in_one_write_gets_431_and_no_upstream_call(
    proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    raw = exchange(proxy, wire_request(padding(MAX_HEAD_BYTES + 10)))
    assert statuses(raw) == [431]
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["type"] == "invalid_request_error"
    assert upstream.requests == []


def test_a_large_head_under_the_limit_is_served(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = exchange(proxy, wire_request(padding(MAX_HEAD_BYTES - 1_000)))
    assert statuses(raw) == [200]
    upstream.wait_idle()
    assert len(upstream.requests) == 1
