"""Incremental reading of a streamed triage reply ``{"confidence": c, "answer": ...}``.

The triage schema puts ``confidence`` first, so a streamed reply reveals it within the first few tokens. This
parser takes the reply's text as it arrives, in chunks split anywhere, and reports:

- the confidence as soon as its number is complete;
- what the answer is: ``null``, a string (decoded incrementally: escapes, ``\\uhhhh`` and surrogate pairs may be
  split across chunks) or another JSON value (the caller's own schema; passed through as raw JSON text);
- the answer's text as it arrives, and whether the reply closed properly;
- a failure as soon as the text cannot be a valid triage reply (then the router escalates at once).

A reply whose keys come in another order is not a failure: the parser reports ``buffering`` and the router
falls back to reading the whole reply. Pure code: no I/O, never raises on any input.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final, Literal

from ..fastjson import loads

__all__ = ["AnswerKind", "ParsedTriage", "TriageStreamParser", "parse_triage_object", "parse_triage_text"]

AnswerKind = Literal["null", "string", "json"]

_WS: Final = " \t\n\r"
_NUMBER_CHARS: Final = frozenset("+-0123456789.eE")
_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# what ends a run of an answer string's plain text: its closing quote, an escape, or a (forbidden) control character
_STRING_SPECIAL: Final = re.compile(r'["\\\x00-\x1f]')
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}

# states
_OBJ, _KEY1, _COLON1, _NUM, _COMMA, _KEY2, _COLON2, _VALUE, _NULL, _STRING, _JSON, _CLOSE, _DONE = range(13)


class TriageStreamParser:
    """Feed text with :meth:`feed`; read the properties; take decoded answer text with :meth:`take_answer`."""

    def __init__(self, *, structured_answer: bool = False) -> None:
        """``structured_answer``: the caller asked for its own JSON schema, so every answer (a string too) is
        passed through as raw JSON text."""
        self._raw = structured_answer
        self._state = _OBJ
        self._buf = ""  # unconsumed input for tokens that must be whole (keys, numbers, literals)
        self._answer_parts: list[str] = []
        self._high_surrogate: int | None = None
        self._json_depth = 0
        self._json_in_string = False
        self._json_escape = False
        self.confidence: float | None = None
        self.answer_kind: AnswerKind | None = None
        self.answer_chars = 0
        self.failed: str | None = None
        self.buffering = False  # keys out of the streaming order: read the whole reply instead
        self.text = ""  # everything fed so far (the fallback parse reads it)

    @property
    def done(self) -> bool:
        """The reply closed with ``}`` after a complete answer."""
        return self._state == _DONE

    @property
    def answer_complete(self) -> bool:
        return self._state in (_CLOSE, _DONE)

    def take_answer(self) -> str:
        """Answer text decoded since the last call (raw JSON text for a ``json`` answer)."""
        if not self._answer_parts:
            return ""
        out = "".join(self._answer_parts)
        self._answer_parts.clear()
        return out

    def feed(self, chunk: str) -> None:
        self.text += chunk
        if self.failed is not None or self.buffering or (self._state == _DONE and not chunk.strip()):
            return
        data = self._buf + chunk
        self._buf = ""
        i = 0
        n = len(data)
        # each step returns where to go on; one that needs more input keeps it in _buf and returns n
        while i < n and self.failed is None and not self.buffering:
            state = self._state
            if state == _STRING:
                i = self._string(data, i)
            elif state == _JSON:
                i = self._json(data, i)
            elif state == _NULL:
                i = self._null(data, i)
            elif data[i] in _WS:
                i += 1
            elif state == _NUM:
                i = self._num(data, i)
            elif state in (_KEY1, _KEY2):
                i = self._key(data, i)
            else:
                i = self._punctuation(data, i)

    def _null(self, data: str, i: int) -> int:
        piece = data[i : i + 4]
        if piece == "null":
            self.answer_kind = "null"
            self._state = _CLOSE
            return i + 4
        if "null".startswith(piece) and i + len(piece) == len(data):
            self._buf = piece
            return len(data)
        self.failed = "answer is not a string, null or JSON value"
        return i

    def _num(self, data: str, i: int) -> int:
        n = len(data)
        end = i
        while end < n and data[end] in _NUMBER_CHARS:
            end += 1
        if end == n:
            self._buf = data[i:]
            return n
        self._number(data[i:end])
        self._state = _COMMA
        return end

    def _key(self, data: str, i: int) -> int:
        if data[i] != '"':
            self.failed = "expected a key"
            return i
        end = data.find('"', i + 1)
        if end < 0:
            self._buf = data[i:]
            return len(data)
        first = self._state == _KEY1
        if data[i + 1 : end] != ("confidence" if first else "answer"):
            self.buffering = True
            return i
        self._state = _COLON1 if first else _COLON2
        return end + 1

    def _punctuation(self, data: str, i: int) -> int:
        """The reply's structure around the keys: ``{``, ``:``, ``,``, the answer's first character, ``}``."""
        state, ch = self._state, data[i]
        if state == _OBJ:
            if ch != "{":
                self.failed = "reply is not a JSON object"
            self._state = _KEY1
        elif state in (_COLON1, _COLON2):
            if ch != ":":
                self.failed = "expected ':'"
                return i
            self._state = _NUM if state == _COLON1 else _VALUE
        elif state == _COMMA:
            if ch != ",":
                self.failed = "missing key 'answer'" if ch == "}" else "expected ',' after the confidence"
                return i
            self._state = _KEY2
        elif state == _VALUE:
            return self._value(ch, i)
        elif state == _CLOSE:
            if ch == ",":
                self.failed = "unexpected key after 'answer'"
            elif ch != "}":
                self.failed = "expected '}' after the answer"
            self._state = _DONE
        else:  # _DONE
            self.failed = "text after the JSON object"
        return i + 1

    def _value(self, ch: str, i: int) -> int:
        """The answer's first character: where its value starts (a string's opening quote is consumed)."""
        if ch == '"' and not self._raw:
            self.answer_kind = "string"
            self._state = _STRING
            return i + 1
        if ch == "n":
            self._state = _NULL
        elif ch in '{[-0123456789tf"':
            self.answer_kind = "json"
            self._state = _JSON
        else:
            self.failed = "answer is not a string, null or JSON value"
        return i

    def _number(self, token: str) -> None:
        if _JSON_NUMBER.fullmatch(token) is None:
            self.failed = f"confidence {token!r} is not a JSON number"
            return
        value = float(token)
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            self.failed = f"confidence {token} is outside [0, 1]"
            return
        self.confidence = value

    def _emit(self, text: str) -> None:
        if text:
            self._answer_parts.append(text)
            self.answer_chars += len(text)

    def _string(self, data: str, i: int) -> int:
        n = len(data)
        while i < n:
            # the answer's text runs to the next quote, backslash or control character: found in C, not a
            # Python loop over every character
            special = _STRING_SPECIAL.search(data, i)
            j = n if special is None else special.start()
            control = j < n and data[j] < " "
            if (j > i or control) and self._high_surrogate is not None:
                self._emit("\ufffd")
                self._high_surrogate = None
            if control:
                self.failed = "control character in the answer string"
                return n
            if j > i:
                self._emit(data[i:j])
            if j == n:
                return n
            if data[j] == '"':
                if self._high_surrogate is not None:
                    self._emit("\ufffd")
                    self._high_surrogate = None
                self._state = _CLOSE
                return j + 1
            i = self._escape(data, j)
        return n

    def _escape(self, data: str, j: int) -> int:
        """The escape at ``data[j]`` (a backslash), decoded; where the string goes on."""
        n = len(data)
        if j + 1 >= n:
            self._buf = data[j:]  # an escape split across chunks: read it whole next time
            return n
        esc = data[j + 1]
        if esc == "u":
            if j + 6 > n:
                self._buf = data[j:]
                return n
            try:
                code = int(data[j + 2 : j + 6], 16)
            except ValueError:
                self.failed = "bad \\u escape in the answer"
                return n
            self._unicode(code)
            return j + 6
        decoded = _SIMPLE_ESCAPES.get(esc)
        if decoded is None:
            self.failed = f"bad escape \\{esc} in the answer"
            return n
        if self._high_surrogate is not None:
            self._emit("\ufffd")
            self._high_surrogate = None
        self._emit(decoded)
        return j + 2

    def _unicode(self, code: int) -> None:
        if 0xD800 <= code <= 0xDBFF:
            if self._high_surrogate is not None:
                self._emit("\ufffd")
            self._high_surrogate = code
            return
        if 0xDC00 <= code <= 0xDFFF:
            if self._high_surrogate is None:
                self._emit("\ufffd")
                return
            combined = 0x10000 + ((self._high_surrogate - 0xD800) << 10) + (code - 0xDC00)
            self._high_surrogate = None
            self._emit(chr(combined))
            return
        if self._high_surrogate is not None:
            self._emit("\ufffd")
            self._high_surrogate = None
        self._emit(chr(code))

    def _json(self, data: str, i: int) -> int:
        """Pass a nested JSON value through, tracking depth to find where it ends."""
        n = len(data)
        start = i
        while i < n:
            ch = data[i]
            if self._json_in_string:
                if self._json_escape:
                    self._json_escape = False
                elif ch == "\\":
                    self._json_escape = True
                elif ch == '"':
                    self._json_in_string = False
                    if self._json_depth == 0:
                        # a string answer (raw mode) is complete at its closing quote
                        self._emit(data[start : i + 1])
                        self._state = _CLOSE
                        return i + 1
            elif ch == '"':
                self._json_in_string = True
            elif ch in "{[":
                self._json_depth += 1
            elif ch in "}]":
                if self._json_depth == 0:
                    # a scalar answer ended at the object's closing brace
                    self._emit(data[start:i].rstrip())
                    self._state = _CLOSE
                    return i
                self._json_depth -= 1
                if self._json_depth == 0:
                    self._emit(data[start : i + 1])
                    self._state = _CLOSE
                    return i + 1
            elif ch == "," and self._json_depth == 0:
                self._emit(data[start:i].rstrip())
                self._state = _CLOSE
                return i
            i += 1
        self._emit(data[start:])
        return n


ParsedTriage = tuple[float | None, AnswerKind | None, str | None, str | None]


def parse_triage_text(text: str, *, structured_answer: bool = False) -> ParsedTriage:
    """Parse a complete triage reply: (confidence, answer kind, answer text, failure or ``None``).

    A ``json`` answer (any answer when ``structured_answer``) comes back as JSON text. Never raises.
    """
    try:
        value = loads(text)
    except (ValueError, RecursionError):
        return None, None, None, "reply is not JSON"
    return parse_triage_object(value, structured_answer=structured_answer)


def parse_triage_object(value: object, *, structured_answer: bool = False) -> ParsedTriage:
    """Check a decoded triage reply (from text or from a tool call's input)."""
    if not isinstance(value, dict):
        return None, None, None, "reply is not a JSON object"
    missing = [k for k in ("confidence", "answer") if k not in value]
    if missing:
        return None, None, None, f"missing key {missing[0]!r}"
    extra = sorted(k for k in value if k not in ("confidence", "answer"))
    if extra:
        return None, None, None, f"unexpected key {extra[0]!r}"
    confidence = value["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return None, None, None, "confidence is not a number"
    conf = float(confidence)
    if not math.isfinite(conf) or not 0.0 <= conf <= 1.0:
        return None, None, None, f"confidence {confidence} is outside [0, 1]"
    answer = value["answer"]
    if answer is None:
        return conf, "null", None, None
    if isinstance(answer, str) and not structured_answer:
        return conf, "string", answer, None
    try:
        return conf, "json", json.dumps(answer, ensure_ascii=False, separators=(",", ":")), None
    except (ValueError, TypeError, RecursionError):
        return conf, None, None, "answer is not serialisable JSON"
