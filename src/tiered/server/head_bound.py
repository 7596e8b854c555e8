"""The size bound on an HTTP/1.1 request head, counting head bytes only.

httptools puts no limit on a request line plus headers, so the server must count them itself; but the parser
hands over what it parsed, not where in a read the head ended, and a single read may hold the end of one
request's body, a whole request (head and body), or the start of the next head. Counting whole reads while "the
head is open" therefore counts body bytes whenever a read holds a whole message (the random 431 of issue #16).

:class:`HeadBound` keeps two counts of the current head, each never more than its true size, so a head is
refused only when it really is over the limit:

- ``parsed``: the request target and every header field as ``name: value\\r\\n``, from the parser's callbacks
  (exact for a head in the usual form). When the head completes, every field has been handed over, so the
  decision for a complete head is made on this count.
- ``raw``: the length of every read that fell entirely inside the head (the head was open before it and after
  it, and no message began or ended within it). httptools buffers a header field until it is whole, which the
  parsed count cannot see; this count grows with every such read, so a head that never ends is refused after
  at most the limit plus one read (the first, which may also hold a previous body) is buffered.

Pure bookkeeping: the protocol (:mod:`.protocol`) calls it from its ``data_received`` and parser callbacks.
"""

from __future__ import annotations

__all__ = ["HeadBound"]

_FIELD_OVERHEAD = len(b": \r\n")


class HeadBound:
    """The head-size bookkeeping of one connection. Each method returns whether the head is over ``limit``."""

    __slots__ = ("_boundary", "_open", "_open_before", "_parsed", "_raw", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = False  # between a message's first byte and its head's end
        self._open_before = False  # the head was open when the current read arrived
        self._boundary = False  # a message began, or its head or the message ended, during the current read
        self._parsed = 0
        self._raw = 0

    @property
    def size(self) -> int:
        """The larger of the two counts of the current (or last) head: a lower bound of its true size."""
        return max(self._parsed, self._raw)

    @property
    def over(self) -> bool:
        return self.size > self.limit

    def read_begins(self) -> None:
        self._open_before = self._open
        self._boundary = False

    def read_ends(self, size: int) -> bool:
        if self._open and self._open_before and not self._boundary:
            self._raw += size  # every byte of this read belongs to the open head
        return self.over

    def message_begins(self) -> None:
        self._open = self._boundary = True
        self._parsed = self._raw = 0

    def url(self, size: int) -> bool:
        self._parsed += size
        return self.over

    def field(self, name_size: int, value_size: int) -> bool:
        self._parsed += name_size + value_size + _FIELD_OVERHEAD
        return self.over

    def head_ends(self) -> bool:
        self._open = False
        self._boundary = True
        return self.over

    def message_ends(self) -> None:
        self._boundary = True
