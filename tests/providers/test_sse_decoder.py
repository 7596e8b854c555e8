"""The SSE decoder: spec corner cases, and any split of the body into chunks gives the same events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.providers._sse import SSEDecoder


def decode(*chunks: bytes) -> list[tuple[str, bytes]]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    events += decoder.flush()
    return [(event.event, event.data) for event in events]


def test_anthropic_shaped_events_keep_their_exact_bytes() -> None:
    body = b'event: ping\ndata: {"type": "ping"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert decode(body) == [("ping", b'{"type": "ping"}'), ("message_stop", b'{"type":"message_stop"}')]


def test_openai_shaped_events_default_to_message() -> None:
    assert decode(b'data: {"a":1}\n\ndata: [DONE]\n\n') == [("message", b'{"a":1}'), ("message", b"[DONE]")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b"event: x\ndata: one\ndata: two\ndata:\n\n") == [("x", b"one\ntwo\n")]


def test_comments_ids_retries_and_unknown_fields_are_ignored() -> None:
    body = b": keep-alive\n\n:another\nid: 7\nretry: 100\nfoo: bar\nevent: e\ndata: d\n\n"
    assert decode(body) == [("e", b"d")]


def test_space_after_colon_is_optional_and_only_one_is_removed() -> None:
    assert decode(b"event:e\ndata:  two spaces\n\n") == [("e", b" two spaces")]


def test_field_without_colon() -> None:
    assert decode(b"event: e\ndata\n\n") == [("e", b"")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: lonely\n\nevent: e\ndata: 1\n\n") == [("e", b"1")]


def test_crlf_and_cr_line_endings() -> None:
    assert decode(b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r") == [("a", b"1"), ("b", b"2")]


def test_crlf_split_between_chunks_is_one_line_ending() -> None:
    assert decode(b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n") == [("a", b"1")]


def test_cr_at_the_very_end_still_ends_the_event() -> None:
    assert decode(b"data: 1\r\r") == [("message", b"1")]


def test_blank_line_split_between_chunks() -> None:
    assert decode(b"data: 1\n", b"\ndata: 2\n", b"\n") == [("message", b"1"), ("message", b"2")]


def test_unterminated_final_event_is_dropped() -> None:
    assert decode(b"data: 1\n\ndata: {half") == [("message", b"1")]


def test_extra_blank_lines_between_events() -> None:
    assert decode(b"\n\n\ndata: 1\n\n\n\n\ndata: 2\n\n") == [("message", b"1"), ("message", b"2")]


def test_pending_bytes_reports_the_event_in_progress() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: 1\n\ndata: 12345")
    assert decoder.pending_bytes == len(b"data: 12345")


def test_invalid_utf8_in_event_name_does_not_raise() -> None:
    assert decode(b"event: \xff\ndata: 1\n\n") == [("\ufffd", b"1")]


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
_data_line = st.binary(max_size=30).filter(lambda b: b"\n" not in b and b"\r" not in b)
_event = st.tuples(st.one_of(st.none(), _name), st.lists(_data_line, min_size=1, max_size=3))


def _encode(events: list[tuple[str | None, list[bytes]]], newline: bytes, comments: bool) -> bytes:
    out = []
    for name, lines in events:
        if comments:
            out.append(b": comment" + newline)
        if name is not None:
            out.append(b"event: " + name.encode() + newline)
        out.extend(b"data: " + line + newline for line in lines)
        out.append(newline)
    return b"".join(out)


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_event, max_size=8),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    comments=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_chunking_gives_the_same_events(
    events: list[tuple[str | None, list[bytes]]], newline: bytes, comments: bool, cuts: list[int]
) -> None:
    body = _encode(events, newline, comments)
    positions = sorted({cut % (len(body) + 1) for cut in cuts})
    chunks = [body[a:b] for a, b in zip([0, *positions], [*positions, len(body)], strict=True)]
    expected = [(name or "message", b"\n".join(lines)) for name, lines in events]
    assert decode(*chunks) == expected
    assert decode(body) == expected


def _reader(chunks: list[bytes]) -> Any:
    from types import SimpleNamespace

    from tiered.providers._sse import SSEReader

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    stream = body()

    async def read_quietly() -> bytes:  # what a quiet read takes at once: all that is left
        return b"".join([chunk async for chunk in stream])

    response = SimpleNamespace(aiter_bytes=lambda: stream, read_quietly=read_quietly, complete=True)
    core = SimpleNamespace(settings=SimpleNamespace(max_event_bytes=1 << 20), provider="anthropic", errors=None)
    return SSEReader(response, core, "m")  # type: ignore[arg-type]


def _messages_stream(deltas: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    events = [("message_start", b'{"type":"message_start"}')]
    events += [
        (
            "content_block_delta",
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w%d "}}' % i,
        )
        for i in range(deltas)
    ]
    events.append(("message_stop", b'{"type":"message_stop"}'))
    return b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), data) for name, data in events), events


def test_a_long_chunk_is_decoded_a_window_at_a_time_for_a_reader_of_single_events() -> None:
    body, events = _messages_stream(200)

    async def first_three_then_the_rest() -> tuple[list[tuple[str, bytes]], int, list[tuple[str, bytes]]]:
        reader = _reader([body[:10], body[10:]])
        first = []
        for _ in range(3):
            event = await reader.next_event()
            first.append((event.event, event.data))
        left_raw = len(reader._held)
        rest = reader.take_ready_pairs(last="message_stop", hold="error")
        return first, left_raw, rest

    first, left_raw, rest = anyio.run(first_three_then_the_rest)
    assert first == events[:3]
    assert left_raw > len(body) // 2  # most of the body was never decoded for those three events
    assert rest == events[3:]


@given(deltas=st.integers(min_value=0, max_value=120), reads=st.integers(min_value=0, max_value=130))
@settings(max_examples=30)
def test_windows_and_ready_takes_give_every_event_once_in_order(deltas: int, reads: int) -> None:
    body, events = _messages_stream(deltas)

    async def read_all() -> list[tuple[str, bytes]]:
        reader = _reader([body])
        seen: list[tuple[str, bytes]] = []
        for _ in range(reads):
            event = await reader.next_event()
            if event is None:
                return seen
            seen.append((event.event, event.data))
        seen += reader.take_ready_pairs(last="message_stop", hold="error")
        while (event := await reader.next_event()) is not None:
            seen.append((event.event, event.data))
        return seen

    assert anyio.run(read_all) == events


def test_read_rest_pairs_takes_every_event_left_in_one_read() -> None:
    body, events = _messages_stream(30)
    cut = body.index(b"event: content_block_delta", 2000)  # the body ends inside its last events

    async def two_then_the_rest(chunks: list[bytes]) -> tuple[list[tuple[str, bytes]], Any]:
        reader = _reader(chunks)
        first = [await reader.next_event(), await reader.next_event()]
        rest = await reader.read_rest_pairs(last="message_stop", hold="error")
        return [(event.event, event.data) for event in first] + rest, await reader.next_event()

    whole, after = anyio.run(two_then_the_rest, [body[:700], body[700:1500], body[1500:]])
    assert whole == events and after is None
    cut_short, after = anyio.run(two_then_the_rest, [body[:700], body[700 : cut + 30]])
    assert cut_short == [e for e in events if body.index(b"event: " + e[0].encode() + b"\ndata: " + e[1]) < cut]
    assert after is None  # the end is reported by the next read


def test_read_rest_pairs_fails_an_event_over_the_limit_as_reading_one_by_one_does() -> None:
    from tiered.errors import UpstreamProtocolError

    async def read() -> None:
        reader = _reader([b"event: message_start\ndata: {}\n\n", b"data: " + b"x" * 5000])
        reader._core.settings.max_event_bytes = 4096
        await reader.read_rest_pairs(last="message_stop", hold="error")

    with pytest.raises(UpstreamProtocolError, match="over 4096 bytes"):
        anyio.run(read)
