"""Hostile requests on the wire, through the real proxy over loopback: oversized and truncated bodies, deep
nesting, invalid UTF-8, wrong content types, odd headers, malformed HTTP framing and slow clients.

Invariants: no 5xx of tiered's own, errors in the endpoint's shape (when the request reached tiered at all:
framing errors are answered by the HTTP server before any application code runs), nothing logged at ERROR,
no upstream call for a refused request, and the proxy still up afterwards.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx2
import pytest
from _sec_helpers import (
    ANTHROPIC_HEADERS,
    BODY_LIMIT,
    OPENAI_HEADERS,
    anthropic_error_shape,
    dumps,
    errors_logged,
    openai_error_shape,
    post,
)

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

MESSAGES: Final = "/v1/messages"
CHAT: Final = "/v1/chat/completions"
ENDPOINTS: Final = [MESSAGES, CHAT]
SMALL: Final = {"model": "tiered", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def headers_for(path: str) -> dict[str, str]:
    return ANTHROPIC_HEADERS if path == MESSAGES else OPENAI_HEADERS


def assert_api_error(path: str, response: httpx2.Response, status: int) -> None:
    assert response.status_code == status, response.text[:300]
    shape = anthropic_error_shape if path == MESSAGES else openai_error_shape
    assert shape(response.json()), response.text[:300]


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest, proxy: ProxyThread, upstream: FakeUpstream) -> Iterator[None]:
    with errors_logged() as logged:
        yield
    if request.node.get_closest_marker("xfail") is None:
        assert not logged.records, logged.messages()
    assert httpx2.get(proxy.url + "/healthz", timeout=5).status_code == 200
    assert proxy.error is None


def address(proxy: ProxyThread) -> tuple[str, int]:
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def raw_exchange(proxy: ProxyThread, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(address(proxy), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw[9:12])


def body_of(raw: bytes) -> Any:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def request_head(path: str, extra: bytes = b"") -> bytes:
    key = f"x-api-key: {ANTHROPIC_HEADERS['x-api-key']}\r\n".encode()
    return b"POST " + path.encode() + b" HTTP/1.1\r\nhost: tiered\r\ncontent-type: application/json\r\n" + key + extra


# -- bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_body_over_the_limit_is_refused_before_it_is_read(
    path: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    huge = b'{"model": "tiered", "pad": "' + b"x" * BODY_LIMIT + b'"}'
    assert_api_error(path, post(proxy.url, path, huge, headers_for(path)), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(BODY_LIMIT // 65536 + 2):
            yield b" " * 65536

    # no content-length: the limit is counted while reading
    chunked = httpx2.post(proxy.url + path, content=chunks(), headers=headers_for(path), timeout=30)
    assert_api_error(path, chunked, 413)
    assert upstream.requests == []


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_large_body_under_the_limit_is_routed(path: str, proxy: ProxyThread, upstream: FakeUpstream) -> None:
    text = "lorem ipsum " * ((BODY_LIMIT - 4096) // 12)
    body = {"model": "tiered", "max_tokens": 20, "messages": [{"role": "user", "content": text}]}
    response = post(proxy.url, path, dumps(body), headers_for(path))
    assert response.status_code == 200, response.text[:300]
    assert len(upstream.requests) >= 1


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"model": "tiered", "max_tokens": 5, "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
        b'{"model": "tiered", "messages": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    ],
    ids=["array-100k", "object-5k-in-a-field", "array-3k-in-messages"],
)
def test_deeply_nested_json_is_refused(path: str, raw: bytes, proxy: ProxyThread, upstream: FakeUpstream) -> None:
    assert_api_error(path, post(proxy.url, path, raw, headers_for(path)), 400)
    assert upstream.requests == []


@pytest.mark.parametrize("path", ENDPOINTS)
def test_nesting_just_under_the_parser_limit_is_handled(path: str, proxy: ProxyThread, upstream: FakeUpstream) -> None:
    """Deep but parseable JSON in a field tiered forwards or translates: no recursion error on the way."""
    for depth in (200, 900, 1020):  # 1020: deeper than json.loads takes, not than orjson
        nested = '{"a": ' * depth + "1" + "}" * depth
        body = (
            '{"model": "tiered", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], '
            f'"metadata": {nested}, "stop_sequences": ["x"]}}'
        )
        response = post(proxy.url, path, body.encode(), headers_for(path))
        assert response.status_code < 500, response.text[:300]
        if response.status_code >= 400:
            assert_api_error(path, response, response.status_code)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "tiered\xff", "max_tokens": 5}',
        b'{"model": "tiered", "max_tokens": 5, "messages": [{"role": "user", "content": "\xc3\x28"}]}',
        b"\xef\xbb\xbf\xfe\xff{}",
    ],
    ids=["bad-byte", "bad-sequence", "bom-garbage"],
)
def test_invalid_utf8_is_refused(path: str, raw: bytes, proxy: ProxyThread, upstream: FakeUpstream) -> None:
    assert_api_error(path, post(proxy.url, path, raw, headers_for(path)), 400)
    assert upstream.requests == []


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded", "image/png"],
)
def test_wrong_content_type_is_refused(
    path: str, content_type: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    headers = {**headers_for(path), "content-type": content_type}
    assert_api_error(path, post(proxy.url, path, dumps(SMALL), headers), 400)
    assert upstream.requests == []


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "claude-opus-4-7", "max_tokens": 5, "messages": [{"role": "user", "content": "a\\ud800b\\udfffc"}]}',
        # UTF-8-encoded surrogates are not valid UTF-8, but Python's JSON decoder lets them through
        b'{"model": "claude-opus-4-7", "max_tokens": 5, "messages": [{"role": "user", "content": "a\xed\xa0\x80b"}]}',
    ],
    ids=["escaped", "utf8-encoded"],
)
def test_lone_surrogates_are_forwarded_as_escapes(
    path: str, raw: bytes, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    response = post(proxy.url, path, raw, headers_for(path))
    upstream.wait_idle()
    (record,) = upstream.requests
    assert "\ud800" in record.body["messages"][0]["content"]
    if response.status_code != 200:
        # the fake upstream cannot hash lone surrogates and answers 500 itself; tiered relays that faithfully
        assert record.status is None or record.status >= 500
        assert "returned HTTP 500" in response.text
        assert_api_error(path, response, 500)


# -- headers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_missing_key_is_refused(path: str, proxy: ProxyThread, upstream: FakeUpstream) -> None:
    response = post(proxy.url, path, dumps(SMALL), {"content-type": "application/json"})
    assert_api_error(path, response, 401)
    assert upstream.requests == []


def test_duplicate_and_many_headers(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    extra = b"x-api-key: second-key\r\nanthropic-version: 2023-06-01\r\nanthropic-version: 1999-01-01\r\n"
    extra += b"".join(b"x-filler-%d: %d\r\n" % (i, i) for i in range(2000))
    body = dumps(SMALL)
    raw = raw_exchange(
        proxy, request_head(MESSAGES, extra) + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
    )
    assert status_of(raw) == 200, raw[:500]
    upstream.wait_idle()
    # one key goes upstream (the first), never both
    keys = {r.headers.get("x-api-key") for r in upstream.requests}
    assert keys == {ANTHROPIC_HEADERS["x-api-key"]}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [b"x-api-key: k\xe9y", b"authorization: Bearer k\xe9y", b"anthropic-version: 2023\xff", b"anthropic-beta: \xe9"],
)
def test_non_ascii_header_bytes_are_refused_cleanly(path: str, header: bytes, proxy: ProxyThread) -> None:
    body = dumps(SMALL)
    head = b"POST " + path.encode() + b" HTTP/1.1\r\nhost: tiered\r\ncontent-type: application/json\r\n"
    if not header.startswith((b"x-api-key", b"authorization")):
        head += b"x-api-key: plain-key\r\n"
    raw = raw_exchange(proxy, head + header + b"\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
    assert 400 <= status_of(raw) < 500, raw[:400]


def test_oversized_headers_are_refused(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    body = dumps(SMALL)
    head = request_head(MESSAGES, b"x-padding: " + b"a" * (1024 * 1024) + b"\r\n")
    raw = raw_exchange(proxy, head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
    assert status_of(raw) in (400, 431)
    assert upstream.requests == []


# -- HTTP framing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        b"content-length: 2\r\ncontent-length: 7\r\n\r\n{}",
        b"content-length: abc\r\n\r\n{}",
        b"content-length: -1\r\n\r\n{}",
        b"content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"content-length: 2\r\n\r\n{}GARBAGE / HTTP/9\r\n\r\n",
        b"transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ],
    ids=[
        "duplicate-length",
        "non-numeric-length",
        "negative-length",
        "length-and-chunked",
        "trailing-garbage",
        "bad-chunk",
    ],
)
def test_malformed_framing_is_refused_by_the_http_layer(
    framing: bytes, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    """These never reach tiered: uvicorn answers 400 (its own plain-text body) and closes the connection."""
    raw = raw_exchange(proxy, request_head(MESSAGES) + framing)
    statuses = [int(part[9:12]) for part in raw.split(b"\r\n\r\n") if part.startswith(b"HTTP/1.1 ")]
    assert statuses, raw[:300]
    assert all(400 <= s < 500 for s in statuses), raw[:500]
    assert upstream.requests == []


def test_truncated_body_then_close_is_not_an_error(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    """The client claims 1000 bytes, sends 20 and leaves: tiered notices the disconnect, answers nothing."""
    with socket.create_connection(address(proxy), timeout=5) as sock:
        sock.sendall(request_head(MESSAGES) + b"content-length: 1000\r\n\r\n" + b'{"model": "tiered", ')
        time.sleep(0.2)
        sock.shutdown(socket.SHUT_WR)
        try:
            leftover = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            leftover = b""
    if leftover:
        assert not leftover.startswith(b"HTTP/1.1 5"), leftover[:300]
    assert upstream.requests == []


def test_slow_clients_do_not_block_others(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    """Slowloris, bounded: 30 connections trickle their headers and bodies a byte every 20 ms (about 3 s
    for a whole head; the connections stay open after) while ordinary requests keep being answered; then the
    slow clients give up."""
    stop = threading.Event()
    opened: list[socket.socket] = []

    def trickle(index: int) -> None:
        sock = socket.create_connection(address(proxy), timeout=5)
        opened.append(sock)
        head = request_head(MESSAGES) + b"content-length: 500\r\n"
        try:
            for byte in head if index % 2 else head + b"\r\n" + b"{" * 100:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                time.sleep(0.02)
        except OSError:
            return

    threads = [threading.Thread(target=trickle, args=(i,), daemon=True) for i in range(30)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(5):
            response = post(proxy.url, MESSAGES, dumps(SMALL), timeout=10)
            assert response.status_code == 200, response.text[:300]
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        for sock in opened:
            sock.close()


@pytest.mark.parametrize(("method", "path"), [("GET", MESSAGES), ("PUT", CHAT), ("POST", "/v1/nothing-here")])
def test_unknown_paths_and_methods_answer_in_the_api_shape(method: str, path: str, proxy: ProxyThread) -> None:
    response = httpx2.request(method, proxy.url + path, content=b"{}", headers=ANTHROPIC_HEADERS, timeout=10)
    assert response.status_code in (404, 405)
    body = response.json()
    if path == CHAT:  # the OpenAI endpoint answers in the OpenAI shape
        assert isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str)
    else:
        assert anthropic_error_shape(body)


@pytest.mark.parametrize("text", [None, 5, 1.5, True])
def test_a_text_block_whose_text_is_not_a_string_is_not_a_500(
    text: object, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    body = {
        "model": "tiered",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    response = post(proxy.url, MESSAGES, dumps(body))
    assert 400 <= response.status_code < 500, response.text[:300]
    assert_api_error(MESSAGES, response, response.status_code)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_json_constants_that_are_not_json_are_refused(constant: bytes, proxy: ProxyThread) -> None:
    body = (
        b'{"model": "tiered", "max_tokens": 5, "temperature": '
        + constant
        + b', "messages": [{"role": "user", "content": "x"}]}'
    )
    response = httpx2.post(proxy.url + MESSAGES, content=body, headers=ANTHROPIC_HEADERS, timeout=10)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]
