"""The write-ahead log: every decision on disk before its response ends, so ``kill -9`` loses none.

:meth:`WriteAheadLog.append` writes one decision as one line with one ``write(2)`` to a segment opened with
``O_APPEND`` (a :class:`~.spool.Spool` segment, in the spool's directory). The bytes are then in the kernel's
page cache, which outlives the process: a ``kill -9`` cannot lose them, and the next writer on the same
directory replays the dead process's segments with the spool's (the kernel drops their ``flock``; replay is
idempotent by decision id, so a decision both logged and committed is stored once). Only an operating-system
crash or power loss can lose appends not yet fsynced; ``fsync=True`` closes that too, at the price of a disk
flush per decision on the request path, so it is off by default.

The log is compacted by rotation: the writer thread sets the active segment aside every ``rotate_bytes`` or
``rotate_s`` (still locked, so nobody else replays it) and deletes it once every decision appended before the
rotation is stored (committed or spooled). The append and the enqueue that follows it happen under
:attr:`WriteAheadLog.lock`, which the rotation takes too: the number of decisions enqueued at the rotation
then bounds everything in the segment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from tiered.store.spool import HeldSegment, Spool

__all__ = ["WriteAheadLog"]

logger = logging.getLogger("tiered.store.wal")


class WriteAheadLog:
    """Append-only decision lines in ``directory``, retired once stored."""

    def __init__(self, directory: Path, *, fsync: bool, rotate_bytes: int, rotate_s: float) -> None:
        self._spool = Spool(directory, segment_bytes=2**62)  # rotated here, not by size in the spool
        self._fsync = fsync
        self._rotate_bytes = rotate_bytes
        self._rotate_s = rotate_s
        self.lock = threading.Lock()  # held by the caller around an append and its enqueue
        self._held: deque[tuple[int, HeldSegment]] = deque()  # (decisions enqueued at its rotation, segment)
        self._rotated = time.monotonic()

    def append(self, line: bytes, decision_id: str) -> None:
        """Write one line; a disk error is logged (the decision is then only queued, as without the log)."""
        try:
            self._spool.append([line], sync=self._fsync)
        except OSError:
            logger.exception("the write-ahead log failed; decision %s is only queued", decision_id)

    def retire(self, enqueued: Callable[[], int], processed: int, *, everything: bool = False) -> None:
        """Rotate the active segment when due, and delete the segments whose decisions are all stored.

        ``enqueued()`` counts the decisions enqueued so far (read under :attr:`lock`), ``processed`` those the
        writer has committed or spooled. ``everything``: the writer is drained, the whole log is stored."""
        now = time.monotonic()
        size = self._spool.active_bytes()
        due = size >= self._rotate_bytes or now - self._rotated >= self._rotate_s
        if size and (due or everything):
            with self.lock:
                held = self._spool.detach()
                marker = enqueued()
            self._rotated = now
            if held is not None:
                self._held.append((marker, held))
        while self._held and (everything or self._held[0][0] <= processed):
            try:
                self._held.popleft()[1].discard()
            except OSError:
                logger.exception("could not delete a write-ahead segment in %s", self._spool.directory)

    def release(self) -> None:
        """Leave every segment on disk, unlocked, for the next writer to replay (something was not stored)."""
        with self.lock:
            held = self._spool.detach()
        if held is not None:
            self._held.append((0, held))
        while self._held:
            self._held.popleft()[1].release()
