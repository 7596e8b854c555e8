"""JSON for the hot path: orjson, with the standard library's ``json`` for what orjson does not take.

orjson parses and writes the JSON that clients and upstreams send several times faster than ``json``. Where
the two would disagree, ``json`` answers, so that callers see what they always saw:

* decoding: a document orjson refuses (a byte order mark, UTF-16, ``NaN``, a number past a double's range, a
  lone surrogate, nesting past 1024, or just broken JSON) is decoded by ``json.loads``, which accepts what it
  always accepted and reports errors with its own messages and positions (they reach clients in 400 errors);
  a document holding an integer of 19 digits or more goes to ``json.loads`` directly, because orjson turns
  integers past 64 bits into floats, silently losing digits;
* encoding: a value orjson refuses (an integer past 64 bits, a lone surrogate, nesting past 254, a key that is
  not a string) is written by ``json.dumps``; ASCII-only when it holds a lone surrogate, which only a ``\\u``
  escape can carry (``json`` would write it as a surrogate that UTF-8 cannot encode).

What still differs from ``json``'s output: text is UTF-8 (non-ASCII is not ``\\u``-escaped; RFC 8259 section
8.1 makes UTF-8 the encoding of JSON between systems), floats under 1e-4 are written without an exponent
(``0.00001`` for ``1e-05``: the same number), and ``NaN``/``Infinity`` (which no decoded document holds unless
it was not JSON) are written as ``null`` instead of failing or writing non-JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import orjson

__all__ = ["dumps", "loads", "loads_many", "strict_loads"]


def _no_constants(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's parser would accept them and forward them upstream."""
    raise ValueError(f"{name} is not valid JSON")


# orjson keeps integers in [-2**63, 2**64) exactly and makes larger ones floats: a document with 19 digits in a
# row (in a string too: it is only slower) goes to json.loads, which keeps every digit. Digits are mapped to
# "0" and the run searched for: C loops over the bytes (a regular expression costs ten times more).
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN: Final = b"0" * 19


_JSON_DECIDES: Final = object()


def _orjson_loads(data: bytes | str) -> Any:
    """orjson's value, or ``_JSON_DECIDES`` when orjson refuses ``data`` or could lose a long integer's digits."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # Nineteen digits in a row include two at consecutive multiples of 9: looking at those bytes first (a
    # ninth of them) rules most documents out at a ninth of the cost of mapping all of them.
    if b"00" in raw[::9].translate(_DIGITS_AS_ZERO) and _LONG_RUN in raw.translate(_DIGITS_AS_ZERO):
        return _JSON_DECIDES
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # json.loads accepts a few things orjson does not, and words its own errors
        return _JSON_DECIDES


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``: the same values and the same errors, faster."""
    value = _orjson_loads(data)
    return json.loads(data) if value is _JSON_DECIDES else value


def strict_loads(data: bytes | str) -> Any:
    """Like :func:`loads`, but ``NaN``, ``Infinity`` and ``-Infinity`` are errors (they are not JSON; orjson
    never accepts them)."""
    value = _orjson_loads(data)
    return json.loads(data, parse_constant=_no_constants) if value is _JSON_DECIDES else value


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


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact JSON as UTF-8 (``json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()`` for
    the values JSON can hold); ``default`` makes a JSON value of anything else, as in ``json.dumps``."""
    try:
        return orjson.dumps(value, default=default)
    except TypeError:  # orjson.JSONEncodeError: what orjson cannot write (see the module's docstring)
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: only an ASCII escape can carry it
        return json.dumps(value, separators=(",", ":"), default=default).encode()
