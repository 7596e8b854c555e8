"""The lean transport's response headers read as httpx2's do."""

from __future__ import annotations

import httpx2
import pytest

from tiered.providers._response import ResponseHeaders

RAW = [
    (b"Content-Type", b"text/event-stream"),
    (b"request-id", b"req_1"),
    (b"Set-Cookie", b"a=1"),
    (b"set-cookie", b"b=2"),
    (b"X-Caf\xe9", b"cr\xe8me"),  # Latin-1, not UTF-8
    (b"x-utf8", "naïve".encode()),
]


def test_lookups_match_httpx2_headers() -> None:
    # httpx2 decodes all values with one encoding: compare where that is UTF-8 (one Latin-1 value would make
    # it Latin-1 for all, where each value is decoded on its own here)
    utf8 = [(name, value) for name, value in RAW if name != b"X-Caf\xe9"]
    mine, theirs = ResponseHeaders(utf8), httpx2.Headers(utf8)
    for name in ("content-type", "CONTENT-TYPE", "Request-Id", "set-cookie", "x-utf8", "absent"):
        assert mine.get(name) == theirs.get(name)
        assert (name in mine) == (name in theirs)
    mine = ResponseHeaders(RAW)
    assert mine.get("absent", "fallback") == "fallback"
    assert mine["set-cookie"] == "a=1, b=2"
    assert mine["x-café"] == "crème"
    assert len(mine) == 5 and set(mine) == {"content-type", "request-id", "set-cookie", "x-café", "x-utf8"}
    assert mine.raw is RAW
    not_a_name: object = 7  # a Mapping must answer `in` for any key, not only strings
    assert not_a_name not in mine
    with pytest.raises(KeyError):
        mine["absent"]
