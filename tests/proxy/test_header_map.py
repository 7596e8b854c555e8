"""header_map: the request's headers as a dict that answers like Starlette's ``Headers.get``."""

from __future__ import annotations

from starlette.requests import Request

from tiered.server.common import header_map


def test_header_map_answers_like_starlettes_headers() -> None:
    raw = [
        (b"x-api-key", b"first"),
        (b"content-type", b"application/json"),
        (b"x-api-key", b"second"),
        (b"anthropic-beta", "caf\u00e9".encode("latin-1")),
    ]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": raw})
    mapped = header_map(request)
    for name in ("x-api-key", "content-type", "anthropic-beta", "authorization"):
        assert mapped.get(name) == request.headers.get(name)
    assert mapped["x-api-key"] == "first" and mapped["anthropic-beta"] == "caf\u00e9"
