"""A bounded FIFO from the request path to a background thread, without waking the thread per item.

``queue.Queue.put`` takes a lock and notifies the consumer on every item: on a proxy that is a thread wake-up
(and a fight for the GIL) per request. Here a put is a ``deque.append`` (atomic in CPython, no lock) and the
consumer polls every ``poll_s`` while it has nothing to do, so under load it drains whole batches per wake-up.
The interface is the part of ``queue.Queue`` the writers use, with the same ``Full`` and ``Empty`` errors.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Inbox"]

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, maxsize: int, *, poll_s: float = 0.01) -> None:
        self.maxsize = maxsize
        self.poll_s = poll_s
        self._items: deque[T] = deque()

    def put_nowait(self, item: T) -> None:
        if len(self._items) >= self.maxsize:
            raise queue.Full
        self._items.append(item)

    def get_nowait(self) -> T:
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    def get(self, timeout: float) -> T:
        """The oldest item, waiting up to ``timeout`` seconds (in ``poll_s`` steps) for one."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._items.popleft()
            except IndexError:
                if time.monotonic() >= deadline:
                    raise queue.Empty from None
                time.sleep(self.poll_s)

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items
