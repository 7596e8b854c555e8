"""The size bound on an HTTP/1.1 request head, counting head bytes only.

httptools puts no limit on a request line plus headers, so the server must count them itself; but the parser
hands over what it parsed, not where in a read the head ended, and a single read may hold the end of one
request's body, a whole request (head and body), or the start of the next head. Counting whole reads while "the
head is open" therefore counts body bytes whenever a read holds a whole message (the random 431 of issue #16).

:class:`HeadBound` keeps two counts of the current head, each never more than its true size, so a head is
refused only when it really is over the limit:

- ``parsed``: the request target and every header field as ``name: value\\r\\n``, as the parser handed them
  over (exact for a head in the usual form), counted once the head is complete: the decision for a complete
  head is made on it, before any application code runs.
- ``raw``: the length of every read that fell entirely inside the head (the head was open before it and after
  it, and no message began or ended within it). httptools buffers a header field until it is whole, which the
  parsed count cannot see; this count grows with every such read, so a head that never ends is refused after
  at most the limit plus one read (the first, which may also hold a previous body) is buffered.

Pure bookkeeping: the protocol (:mod:`.protocol`) calls it from its ``data_received`` and parser callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["FIELD_OVERHEAD", "HeadBound"]

FIELD_OVERHEAD = len(b": \r\n")
"""Bytes of a header field besides its name and value, in the usual form."""


class HeadBound:
    """The head-size bookkeeping of one connection. Each method returns whether the head is over ``limit``."""

    __slots__ = ("_boundary", "_open", "_open_before", "_parsed", "_raw", "_read", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = False  # between a message's first byte and its head's end
        self._open_before = False  # the head was open when the current read arrived
        self._boundary = False  # a message began, or its head or the message ended, during the current read
        self._parsed = 0
        self._raw = 0
        self._read = 0  # the size of the current read

    @property
    def size(self) -> int:
        """The larger of the two counts of the current (or last) head: a lower bound of its true size (the
        parsed count is only taken when the head could be over the limit)."""
        return max(self._parsed, self._raw)

    @property
    def over(self) -> bool:
        return self.size > self.limit

    def read_begins(self, size: int) -> None:
        self._read = size
        self._open_before = self._open
        self._boundary = False

    def read_ends(self) -> bool:
        if self._open and self._open_before and not self._boundary:
            self._raw += self._read  # every byte of this read belongs to the open head
            return self._raw > self.limit
        return False  # nothing counted: a verdict given before stands

    def message_begins(self) -> None:
        self._open = self._boundary = True
        self._parsed = self._raw = 0

    def head_ends(self, parsed: Callable[[], int]) -> bool:
        """The head is complete; ``parsed()`` gives its size as parsed (see the module docstring). It is not
        asked for when the head cannot be over the limit: it began in this read, and the read is not over the
        limit (the usual request: one read, a head of a few hundred bytes)."""
        self._open = False
        self._boundary = True
        if not self._open_before and self._read <= self.limit:
            self._parsed = 0
            return False
        self._parsed = parsed()
        return self._parsed > self.limit or self._raw > self.limit

    def message_ends(self) -> None:
        self._boundary = True
