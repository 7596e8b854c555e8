"""CoalescingTransport: a response of known length leaves in one write (head and body), others as uvicorn sends
them, at most one loop step later; the bytes on the wire are uvicorn's own."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx2
import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from tests._transport import RecordingTransport as Transport
from tiered.server.coalescing import CoalescingTransport
from tiered.server.protocol import TieredHttpProtocol
from tiered.server.thread import ProxyThread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cycle(
    transport: asyncio.Transport,
    *,
    method: str = "POST",
    keep_alive: bool = True,
    default_headers: list[tuple[bytes, bytes]] | None = None,
) -> Any:
    done: list[bool] = []
    made: Any = RequestResponseCycle(  # Any: the cycle also carries the test's `completions` list, set below
        scope={"type": "http", "method": method, "headers": []},  # type: ignore[typeddict-item]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=default_headers or [],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: done.append(True),
    )
    made.completions = done
    return made


def coalescing_over(transport: Transport) -> CoalescingTransport:
    return CoalescingTransport(transport, asyncio.get_running_loop())


def start(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers}


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def next_step() -> None:
    await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_response_of_known_length_is_one_write() -> None:
    transport = Transport()
    answer = cycle(coalescing_over(transport))
    await answer.send(start([(b"content-type", b"application/json"), (b"content-length", b"2")]))
    assert transport.writes == []
    await answer.send(body(b"{}"))
    assert len(transport.writes) == 1
    wire = transport.writes[0]
    assert wire.startswith(b"HTTP/1.1 200 OK\r\n") and wire.endswith(b"\r\n\r\n{}")
    assert b"content-length: 2\r\n" in wire
    assert answer.response_complete and answer.completions == [True]
    await next_step()
    assert len(transport.writes) == 1 and not transport.closed  # the step's end has nothing left to send


@pytest.mark.anyio
async def test_a_body_in_several_messages_carries_the_head_in_its_first_write_only() -> None:
    transport = Transport()
    answer = cycle(coalescing_over(transport), keep_alive=False)
    await answer.send(start([(b"content-length", b"4")]))
    await answer.send(body(b"ab", more=True))
    await answer.send(body(b"cd"))
    assert len(transport.writes) == 2
    assert transport.writes[0].endswith(b"connection: close\r\n\r\nab") and transport.writes[1] == b"cd"
    assert transport.closed  # uvicorn's keep-alive handling still runs


@pytest.mark.anyio
async def test_an_event_stream_head_leaves_at_the_end_of_the_step() -> None:
    transport = Transport()
    answer = cycle(coalescing_over(transport))
    await answer.send(start([(b"content-type", b"text/event-stream")]))
    assert transport.writes == []
    await next_step()  # the stream's first event is not here yet: the head goes alone
    assert len(transport.writes) == 1 and b"transfer-encoding: chunked" in transport.writes[0]
    await answer.send(body(b"data: 1\n\n", more=True))
    assert transport.writes[1] == b"9\r\ndata: 1\n\n\r\n"  # an event is never held
    await answer.send(body(b"", more=False))
    await next_step()
    assert transport.writes[2] == b"0\r\n\r\n"


@pytest.mark.anyio
async def test_a_head_request_gets_its_head_at_the_end_of_the_step() -> None:
    transport = Transport()
    answer = cycle(coalescing_over(transport), method="HEAD")
    await answer.send(start([(b"content-length", b"2")]))
    await answer.send(body(b"{}"))
    await next_step()
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n")


@pytest.mark.anyio
async def test_held_bytes_go_before_close_and_eof_and_are_dropped_by_abort() -> None:
    for end in ("close", "write_eof"):
        transport = Transport()
        joined = coalescing_over(transport)
        joined.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert joined.get_write_buffer_size() == len(b"HTTP/1.1 100 Continue\r\n\r\n")
        getattr(joined, end)()
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        await next_step()
        assert len(transport.writes) == 1  # sent once
    transport = Transport()
    joined = coalescing_over(transport)
    joined.write(b"x\r\n\r\n")
    joined.abort()
    await next_step()
    assert transport.writes == [] and transport.aborted


@pytest.mark.anyio
async def test_nothing_is_written_once_the_transport_is_closing() -> None:
    transport = Transport()
    joined = coalescing_over(transport)
    joined.write(b"x\r\n\r\n")
    transport.closed = True  # the connection was lost
    joined.close()
    await next_step()
    assert transport.writes == []


@pytest.mark.anyio
async def test_uvicorn_checks_still_apply() -> None:
    transport = Transport()
    answer = cycle(coalescing_over(transport))
    with pytest.raises(RuntimeError, match="header value"):
        await answer.send(start([(b"x-bad", b"a\r\nb")]))
    await next_step()
    assert transport.writes == []
    transport = Transport()
    joined = coalescing_over(transport)
    answer = cycle(joined)
    await answer.send(start([(b"content-length", b"1")]))
    with pytest.raises(RuntimeError, match="longer than Content-Length"):
        await answer.send(body(b"too long"))
    assert transport.writes == []  # the head is held: no body came with it
    joined.close()  # what uvicorn's cycle does when the app fails mid-response
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n") and transport.closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "keep_alive", "status", "headers", "body_bytes"),
    [
        ("POST", True, 200, [(b"Content-Type", b"application/json"), (b"content-length", b"2")], b"{}"),
        ("POST", False, 200, [(b"content-length", b"2"), (b"X-Tiered-Route", b"default")], b"{}"),
        ("POST", True, 200, [(b"content-length", b"2"), (b"connection", b"Keep-Alive, CLOSE")], b"{}"),
        ("POST", True, 200, [(b"transfer-encoding", b"Chunked")], b"ab"),
        ("POST", True, 200, [(b"content-type", b"text/event-stream")], b"ab"),
        ("POST", True, 200, [(b"content-length", b"4")], b"\r\n\r\n"),
        ("POST", True, 204, [], b""),
        ("GET", True, 404, [(b"content-length", b"0")], b""),
        ("HEAD", True, 200, [(b"content-length", b"2")], b"{}"),
        ("POST", True, 503, [(b"content-length", b"2"), (b"content-length", b"2")], b"{}"),
    ],
)
async def test_the_wire_bytes_are_uvicorns(
    method: str, keep_alive: bool, status: int, headers: list[tuple[bytes, bytes]], body_bytes: bytes
) -> None:
    wires = []
    for coalesce in (False, True):
        transport = Transport()
        date = [(b"date", b"Fri, 27 Nov 2026 06:00:00 GMT")]
        over = coalescing_over(transport) if coalesce else transport
        answer = cycle(over, method=method, keep_alive=keep_alive, default_headers=date)
        await answer.send({"type": "http.response.start", "status": status, "headers": headers})
        await answer.send(body(body_bytes))
        await next_step()
        wires.append((b"".join(transport.writes), transport.closed, answer.keep_alive, answer.response_complete))
    assert wires[0] == wires[1]


def test_the_proxy_answers_json_in_one_write(proxy: ProxyThread, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[bytes] = []

    class Recording:
        """The socket's transport, with its writes recorded (uvloop's transport takes no new attributes)."""

        def __init__(self, transport: asyncio.Transport) -> None:
            self.transport = transport

        def write(self, data: bytes) -> None:
            written.append(bytes(data))
            self.transport.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.transport, name)

    class Spy(CoalescingTransport):
        def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
            super().__init__(Recording(transport), loop)  # type: ignore[arg-type]

    monkeypatch.setattr("tiered.server.protocol.CoalescingTransport", Spy)
    response = httpx2.get(proxy.url + "/healthz", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert len(written) == 1 and written[0].startswith(b"HTTP/1.1 200 ")  # the head went with the body


def test_server_protocol_surface() -> None:
    """TieredHttpProtocol overrides only uvicorn's public methods, and its own names clash with none of
    uvicorn's (class or instance attributes): a uvicorn release that changes that fails here first."""
    import uvicorn
    from uvicorn.server import ServerState

    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(lambda *_: None, log_level="warning", lifespan="off")
        theirs = HttpToolsProtocol(config, ServerState(), {}, _loop=loop)
        ours = TieredHttpProtocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    uvicorn_names = {name for klass in HttpToolsProtocol.__mro__ for name in vars(klass)} | set(vars(theirs))
    overridden = uvicorn_names & set(vars(TieredHttpProtocol))
    assert overridden and all(
        not name.startswith("_") or name in {"__init__", "__doc__", "__module__"} for name in overridden
    )
    assert not (set(vars(ours)) - set(vars(theirs))) & uvicorn_names
    assert {"on_message_begin", "on_headers_complete", "on_response_complete"} <= overridden
