"""CoalescingCycle: a response of known length leaves in one write (head and body); others as uvicorn sends them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx2
import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from tiered.server.protocol import CoalescingCycle
from tiered.server.thread import ProxyThread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cycle(
    transport: Transport,
    *,
    method: str = "POST",
    keep_alive: bool = True,
    kind: type[RequestResponseCycle] = CoalescingCycle,
    default_headers: list[tuple[bytes, bytes]] | None = None,
) -> Any:
    done: list[bool] = []
    made: Any = kind(  # Any: the cycle also carries the test's `completions` list, set below
        scope={"type": "http", "method": method, "headers": []},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
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


def start(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers}


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


@pytest.mark.anyio
async def test_a_response_of_known_length_is_one_write() -> None:
    transport = Transport()
    answer = cycle(transport)
    await answer.send(start([(b"content-type", b"application/json"), (b"content-length", b"2")]))
    assert transport.writes == []
    await answer.send(body(b"{}"))
    assert len(transport.writes) == 1
    wire = transport.writes[0]
    assert wire.startswith(b"HTTP/1.1 200 OK\r\n") and wire.endswith(b"\r\n\r\n{}")
    assert b"content-length: 2\r\n" in wire
    assert answer.response_complete and answer.completions == [True]
    assert not transport.closed


@pytest.mark.anyio
async def test_a_body_in_several_messages_carries_the_head_in_its_first_write_only() -> None:
    transport = Transport()
    answer = cycle(transport, keep_alive=False)
    await answer.send(start([(b"content-length", b"4")]))
    await answer.send(body(b"ab", more=True))
    await answer.send(body(b"cd"))
    assert len(transport.writes) == 2
    assert transport.writes[0].endswith(b"connection: close\r\n\r\nab") and transport.writes[1] == b"cd"
    assert transport.closed  # uvicorn's keep-alive handling still runs


@pytest.mark.anyio
async def test_an_event_stream_head_is_sent_at_once() -> None:
    transport = Transport()
    answer = cycle(transport)
    await answer.send(start([(b"content-type", b"text/event-stream")]))
    assert len(transport.writes) == 1 and b"transfer-encoding: chunked" in transport.writes[0]
    await answer.send(body(b"data: 1\n\n", more=True))
    assert transport.writes[1] == b"9\r\ndata: 1\n\n\r\n"


@pytest.mark.anyio
async def test_a_head_request_gets_its_head_at_once() -> None:
    transport = Transport()
    answer = cycle(transport, method="HEAD")
    await answer.send(start([(b"content-length", b"2")]))
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n")
    await answer.send(body(b"{}"))
    assert len(transport.writes) == 1


@pytest.mark.anyio
async def test_uvicorn_checks_still_apply() -> None:
    transport = Transport()
    answer = cycle(transport)
    with pytest.raises(RuntimeError, match="header value"):
        await answer.send(start([(b"x-bad", b"a\r\nb")]))
    assert transport.writes == []
    transport = Transport()
    answer = cycle(transport)
    await answer.send(start([(b"content-length", b"1")]))
    with pytest.raises(RuntimeError, match="longer than Content-Length"):
        await answer.send(body(b"too long"))
    assert transport.writes == []


def test_the_proxy_answers_json_in_one_write(proxy: ProxyThread, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[bool] = []
    original = CoalescingCycle._send_whole

    def spy(self: CoalescingCycle, head: bytes, message: Any) -> bool:
        done = original(self, head, message)
        written.append(done)
        return done

    monkeypatch.setattr(CoalescingCycle, "_send_whole", spy)
    response = httpx2.get(proxy.url + "/healthz", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert written == [True]  # the head went with the body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "keep_alive", "status", "headers", "body_bytes"),
    [
        ("POST", True, 200, [(b"Content-Type", b"application/json"), (b"content-length", b"2")], b"{}"),
        ("POST", False, 200, [(b"content-length", b"2"), (b"X-Tiered-Route", b"default")], b"{}"),
        ("POST", True, 200, [(b"content-length", b"2"), (b"connection", b"Keep-Alive, CLOSE")], b"{}"),
        ("POST", True, 200, [(b"transfer-encoding", b"Chunked")], b"ab"),
        ("POST", True, 200, [(b"content-type", b"text/event-stream")], b"ab"),
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
    for kind in (RequestResponseCycle, CoalescingCycle):
        transport = Transport()
        date = [(b"date", b"Fri, 27 Nov 2026 06:00:00 GMT")]
        answer = cycle(transport, method=method, keep_alive=keep_alive, kind=kind, default_headers=date)
        await answer.send({"type": "http.response.start", "status": status, "headers": headers})
        await answer.send(body(body_bytes))
        wires.append((b"".join(transport.writes), transport.closed, answer.keep_alive, answer.response_complete))
    assert wires[0] == wires[1]
