"""JSON for the hot path: the standard library's C scanner and encoder without ``json``'s Python wrappers.

``json.loads`` on bytes sniffs the encoding, decodes, and matches whitespace with regular expressions around
the C scanner: on a 100-byte stream event that wrapper costs more than the parse itself. :func:`loads` calls
the scanner directly and falls back to ``json.loads`` for anything unusual (leading whitespace, trailing
data, an error to report), so its results and its errors are exactly ``json.loads``'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, cast

__all__ = ["compact_encoder", "dumps", "dumps_text", "loads", "loads_many", "strict_loads"]


def _no_constants(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's parser would accept them and forward them upstream."""
    raise ValueError(f"{name} is not valid JSON")


_PLAIN: Final = json.JSONDecoder()
_STRICT: Final = json.JSONDecoder(parse_constant=_no_constants)
_WHITESPACE: Final = " \t\n\r"
# the decoders' own C scanners (what JSONDecoder.raw_decode calls)
_PLAIN_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = cast(Any, _PLAIN).scan_once
_STRICT_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = cast(Any, _STRICT).scan_once


def compact_encoder(
    *, ensure_ascii: bool = True, allow_nan: bool = True, default: Callable[[Any], Any] | None = None
) -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=(",", ":"), ...).encode`` for hot paths, made once.

    ``JSONEncoder.encode`` builds a new C encoder (and a closure) on every call, which costs more than encoding
    a small document; this builds the C encoder once. The one difference: no check for circular references (a
    value that contains itself raises ``RecursionError`` instead of ``ValueError``); the values encoded here
    come from parsed JSON and never contain themselves."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=allow_nan, default=default)
    make = cast(Any, json.encoder).c_make_encoder
    if make is None:  # an interpreter without the C accelerator
        return encoder.encode
    string = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    c_encode = make(None, encoder.default, string, None, ":", ",", False, False, allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return string(value)
        return join(c_encode(value, 0))

    return encode


_COMPACT: Final = compact_encoder()
_COMPACT_TEXT: Final = compact_encoder(ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """``json.dumps(value, separators=(",", ":")).encode()``: compact, ASCII-only."""
    return _COMPACT(value).encode()


def dumps_text(value: Any) -> bytes:
    """Compact JSON as UTF-8, non-ASCII text kept as it is (``ensure_ascii=False``)."""
    return _COMPACT_TEXT(value).encode()


def _fast(scan: Callable[[str, int], tuple[Any, int]], data: bytes | str, strict: bool) -> Any:
    try:
        text = data.decode() if isinstance(data, bytes) else data
        value, end = scan(text, 0)
    except (StopIteration, UnicodeDecodeError):
        return _slow(data, strict)
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return _slow(data, strict)
    return value


def _slow(data: bytes | str, strict: bool) -> Any:
    # json.loads itself: its encodings (a BOM, UTF-16), and its errors with their positions
    return json.loads(data, parse_constant=_no_constants) if strict else json.loads(data)


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``, faster on small documents."""
    return _fast(_PLAIN_SCAN, data, False)


def strict_loads(data: bytes | str) -> Any:
    """Like :func:`loads`, but ``NaN``, ``Infinity`` and ``-Infinity`` are errors (they are not JSON)."""
    return _fast(_STRICT_SCAN, data, True)


def loads_many(documents: list[bytes]) -> list[Any] | None:
    """Several JSON documents decoded in one call (as one array), or ``None`` when that fails or yields a
    different count; the caller then decodes them one by one to find and report the bad one.

    Documents that are each broken but valid once joined (``[1`` and ``2]``) are not told apart from good
    ones: use it for data whose source could as well have sent the joined values (an upstream's events)."""
    if not documents:
        return []
    try:
        values = loads(b"[" + b",".join(documents) + b"]")
    except (ValueError, RecursionError):
        return None
    # a document holding a comma ("1,2") would shift the others: the count tells
    return values if isinstance(values, list) and len(values) == len(documents) else None
