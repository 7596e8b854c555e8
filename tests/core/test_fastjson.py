"""The hot path's JSON (orjson): the same values and the same errors as ``json.loads``, and what ``json.dumps``
writes, up to the documented differences."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiered.fastjson import dumps, loads, loads_many, strict_loads
from tiered.providers.base import StreamEvent
from tiered.runner.sse_events import delta_text, text_delta
from tiered.runner.triage_read import deltas_text

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _outcome(fn: Any, data: bytes | str) -> tuple[str, Any]:
    try:
        return "ok", fn(data)
    except ValueError as exc:
        return type(exc).__name__, str(exc)


@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "  \t"]), st.sampled_from(["", " ", "\r\n"]))
def test_values_decode_as_json_loads_does(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value, ensure_ascii=False) + after
    assert loads(text.encode()) == json.loads(text.encode())
    assert loads(text) == json.loads(text)
    assert strict_loads(text.encode()) == json.loads(text)


@given(st.binary(max_size=40))
def test_any_bytes_give_json_loads_result_or_error(data: bytes) -> None:
    mine, theirs = _outcome(loads, data), _outcome(json.loads, data)
    if theirs[0] == "ok":
        assert mine == theirs or (mine[1] != mine[1] and theirs[1] != theirs[1])  # NaN is not equal to itself
    else:
        assert mine[0] != "ok"


@pytest.mark.parametrize("data", [b'{"a": 1} x', b"[1,", b"", b"\xff{}", b"{} {}"])
def test_errors_are_json_loads_errors(data: bytes) -> None:
    mine, theirs = _outcome(loads, data), _outcome(json.loads, data)
    assert mine[0] != "ok" and mine == theirs


def test_a_bom_is_accepted_like_json_loads() -> None:
    assert loads(b"\xef\xbb\xbf{}") == {} == json.loads(b"\xef\xbb\xbf{}")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", '{"x": NaN}'])
def test_strict_refuses_constants_that_are_not_json(constant: str) -> None:
    assert loads(constant) is not None
    with pytest.raises(ValueError, match="not valid JSON"):
        strict_loads(constant)


def test_many_documents_decode_together_or_not_at_all() -> None:
    assert loads_many([]) == []
    assert loads_many([b'{"a":1}', b"2", b'"x"']) == [{"a": 1}, 2, "x"]
    assert loads_many([b'{"a":1}', b"{oops"]) is None
    assert loads_many([b"1,2", b"3"]) is None  # one document holding two values


def _delta(text: str, kind: str = "text_delta") -> bytes:
    key = "text" if kind == "text_delta" else "partial_json"
    return json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": kind, key: text}}).encode()


def test_deltas_decode_together_and_a_broken_one_is_a_protocol_error() -> None:
    from tiered.errors import UpstreamProtocolError

    assert deltas_text([_delta("Hel"), _delta("lo"), _delta('{"a"', "input_json_delta")]) == 'Hello{"a"'
    with pytest.raises(UpstreamProtocolError):
        deltas_text([_delta("Hel"), b"{not json"])
    odd = [
        _delta("a"),
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":7}}',
        b'{"type":"content_block_delta","index":0,"delta":{"type":"other_delta","text":"x","partial_json":"y"}}',
        b'{"type":"content_block_delta","index":0,"delta":"not an object"}',
        b'{"type":"content_block_delta","index":0}',
        _delta("b"),
    ]
    assert deltas_text(odd) == "".join(delta_text(StreamEvent("content_block_delta", data)) for data in odd) == "ayb"


@pytest.mark.parametrize(
    "text", ["plain", 'quote " backslash \\ newline \n tab \t', "é 漢字 😀", "\x00\x1f", "\ud800 lone"]
)
def test_text_deltas_from_the_template_are_the_json_of_the_event(text: str) -> None:
    event = text_delta(text)
    data = json.loads(event.data)
    assert data == {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    assert event.json() == data
    assert event.encode() == b"event: content_block_delta\ndata: " + event.data + b"\n\n"


def _json_dumps(value: Any, **options: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, **options).encode()


def _has_small_float(value: Any) -> bool:
    """A float that ``json`` writes with a negative exponent (``1e-05``), orjson without (``0.00001``)."""
    if isinstance(value, float):
        return value != 0 and abs(value) < 1e-4
    if isinstance(value, dict):
        return any(map(_has_small_float, value.values()))
    return isinstance(value, list) and any(map(_has_small_float, value))


@given(JSON_VALUES)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    written = dumps(value)
    assert json.loads(written) == value
    if not _has_small_float(value):
        assert written == _json_dumps(value)


@pytest.mark.parametrize(
    ("value", "written"),
    [(1e-05, b"0.00001"), (-2.5e-07, b"-2.5e-7"), (1e-4, b"0.0001"), (1e16, b"1e+16"), (-0.0, b"-0.0")],
)
def test_small_floats_are_the_same_number_without_json_dumps_exponent(value: float, written: bytes) -> None:
    assert dumps(value) == written and json.loads(written) == value


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**64, "small": -(2**63) - 1, "edge": [2**64 - 1, -(2**63)]},  # past orjson's 64 bits
        {"text": "a\ud800b"},  # a lone surrogate: only an ASCII escape can carry it
        {1: True, None: 2.5},  # keys that are not strings
        json.loads("[" * 300 + "]" * 300),  # deeper than orjson writes
    ],
    ids=["big-ints", "lone-surrogate", "non-str-keys", "deep"],
)
def test_what_orjson_cannot_write_is_written_by_json(value: Any) -> None:
    try:
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: the ASCII form carries it as an escape
        expected = json.dumps(value, separators=(",", ":")).encode()
    assert dumps(value) == expected


def test_dumps_keeps_json_dumps_rules_for_odd_values() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
    assert dumps({"x": object()}, default=lambda v: "seen") == b'{"x":"seen"}'
    # not JSON, and only reachable from input that was not JSON: null, not a non-JSON NaN
    assert dumps([float("nan"), float("inf")]) == b"[null,null]"


@pytest.mark.parametrize(
    "text",
    [
        "12345678901234567890123",
        '{"id": 18446744073709551616, "n": -9223372036854775809}',
        '[99999999999999999999999999999999.5, "1234567890123456789"]',
    ],
)
def test_integers_past_64_bits_keep_every_digit(text: str) -> None:
    assert loads(text) == json.loads(text) == strict_loads(text.encode())
    assert loads_many([text.encode(), b"1"]) == [json.loads(text), 1]


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf{}", b'"a\\ud800b"', b'"a\xed\xa0\x80b"', b"1e400", b"-1e999"])
def test_what_orjson_refuses_json_loads_accepts(data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(json.loads, data) != ("ok", None)
    assert _outcome(strict_loads, data) == _outcome(json.loads, data)


def test_nesting_past_orjson_limit_is_json_loads_recursion_error() -> None:
    # orjson takes 1024 levels, a few more than json.loads within Python's default recursion limit
    deep = loads("[" * 1024 + "]" * 1024)
    for _ in range(1023):
        (deep,) = deep
    assert deep == []
    with pytest.raises(RecursionError):
        strict_loads("[" * 5000 + "]" * 5000)


def _compact_delta(text: str, ascii_only: bool = True) -> bytes:
    # the Messages API's own wire shape: compact JSON, fields in this order
    value = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode()


@given(st.lists(st.text(), max_size=8), st.booleans())
def test_compact_text_deltas_decode_to_their_joined_text(texts: list[str], ascii_only: bool) -> None:
    deltas = [_compact_delta(text, ascii_only) for text in texts]
    assert deltas_text(deltas) == "".join(texts)


def test_compact_deltas_that_look_like_the_fast_shape_but_are_not_fall_back() -> None:
    from tiered.errors import UpstreamProtocolError

    tricky = ['"}}', '\\"}}\n{"type"', "\\", "\n", 'a","x":"y']
    assert deltas_text([_compact_delta(text) for text in tricky]) == "".join(tricky)
    # one delta of another kind among text deltas: decoded one by one, in order
    mixed = [_compact_delta("a"), _delta('{"k"', "input_json_delta"), _compact_delta("b")]
    assert deltas_text(mixed) == 'a{"k"b'
    # a bad escape is the provider breaking its API, as when decoded alone
    bad = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\q"}}'
    with pytest.raises(UpstreamProtocolError):
        deltas_text([_compact_delta("a"), bad])
    # a raw control character is not JSON either
    raw = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\x01"}}'
    with pytest.raises(UpstreamProtocolError):
        deltas_text([raw])


def test_joined_text_deltas_only_takes_valid_deltas_of_the_usual_shape() -> None:
    from tiered.runner.sse_events import joined_text_deltas

    assert joined_text_deltas([]) == ""
    assert joined_text_deltas([_compact_delta("a\\"), _compact_delta("\u00e9\n")]) == "a\\\u00e9\n"
    prefix = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
    for broken in (b"\\q", b"\\u12", b"\x01", b"\xff"):
        assert joined_text_deltas([_compact_delta("ok"), prefix + broken + b'"}}']) is None
    assert joined_text_deltas([_delta("spaced shape")]) is None  # read one by one instead
    assert joined_text_deltas([_delta('{"a"', "input_json_delta")]) is None


def test_duplicate_keys_keep_the_last_value_as_json_loads_does() -> None:
    data = b'{"a": 1, "b": {"c": 2, "c": 3}, "a": 4}'
    assert loads(data) == strict_loads(data) == json.loads(data) == {"a": 4, "b": {"c": 3}}


@given(st.integers(min_value=0, max_value=40), st.integers(2**64, 10**40) | st.integers(-(10**40), -(2**63) - 1))
def test_a_long_integer_keeps_its_digits_wherever_it_sits(offset: int, number: int) -> None:
    text = '{"pad": "' + "x" * offset + f'", "n": [{number}]}}'
    assert loads(text.encode())["n"] == [number] == strict_loads(text)["n"]
