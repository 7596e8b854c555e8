"""The spool: append-only JSON-lines files that hold records while the database cannot take them.

Layout: one directory per database (see :func:`tiered.store.paths.default_spool_dir`) of *segments* named
``<time_ns>-<pid>-<random>.jsonl``. A process appends only to its own active segment, which it holds an
exclusive ``flock`` on; it starts a new one past ``segment_bytes``. Segments whose lock is free (sealed by
their owner, or left by a process that died: the kernel drops its locks) are replayed by whichever writer
gets the lock first, then deleted. Replay is idempotent, so a replay cut short is simply done again.

Durability: every append is one ``write(2)`` straight to the file (no user-space buffer), so a record the
spool has acknowledged survives ``kill -9`` of the process. It survives an operating-system crash or power
loss only once fsynced: :meth:`Spool.append` with ``sync=True`` fsyncs before returning, ``sync=False``
leaves it to the next :meth:`Spool.sync`.

Lines that cannot be parsed (a torn last line after a crash mid-write) or that the database rejects are
moved to ``rejected/`` beside the segments, never silently discarded.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tiered.store.records import Record, decode_record

__all__ = ["HeldSegment", "ReplayResult", "Spool"]

logger = logging.getLogger("tiered.store.spool")

_SUFFIX = ".jsonl"


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What one :meth:`Spool.replay` did."""

    records: int = 0  # records handed to the sink (and so committed)
    files: int = 0  # segments replayed completely and deleted
    corrupt: int = 0  # lines that could not be parsed, moved to rejected/


@dataclass(frozen=True, slots=True)
class HeldSegment:
    """A segment :meth:`Spool.detach` set aside: still locked (so nobody replays it) until it is discarded."""

    path: Path
    fd: int

    def discard(self) -> None:
        """Delete the segment (its records are stored elsewhere now) and release it."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)

    def release(self) -> None:
        """Keep the segment on disk and unlock it: the next replay (of any process) stores its records."""
        os.close(self.fd)


class Spool:
    """Append-only segments in ``directory``; thread-safe within a process, lock-safe across processes."""

    def __init__(self, directory: Path, *, segment_bytes: int = 4 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._unsynced = False
        self._closed = False

    def append(self, lines: Sequence[bytes], *, sync: bool) -> None:
        """Append complete lines; raises ``OSError`` if the disk refuses (the caller counts a drop).

        The lock is held only for the ``write(2)``: an fsync runs outside it, so a caller appending from the
        request path never waits for another thread's fsync.
        """
        if not lines:
            return
        data = b"".join(lines)
        to_sync: int | None = None
        with self._lock:
            fd = self._active_fd()
            _write_all(fd, data)
            self._size += len(data)
            self._unsynced = True
            if sync:
                to_sync = os.dup(fd)
                self._unsynced = False
            if self._closed or self._size >= self.segment_bytes:
                # After close nobody will seal this segment: release it at once so another writer replays it.
                self._seal()
        if to_sync is not None:
            try:
                os.fsync(to_sync)
            finally:
                os.close(to_sync)

    def sync(self) -> None:
        """fsync what earlier ``sync=False`` appends wrote."""
        with self._lock:
            if self._fd is None or not self._unsynced:
                return
            fd = os.dup(self._fd)  # a duplicate, so that the fsync can run without holding the lock
            self._unsynced = False
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def segments(self) -> list[Path]:
        """Every segment in the directory, oldest first (including ones other processes hold)."""
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix == _SUFFIX and p.is_file())
        except FileNotFoundError:
            return []

    def replay(self, sink: Callable[[list[Record]], None], *, chunk: int = 500) -> ReplayResult:
        """Feed every segment nobody else holds to ``sink`` in chunks, deleting each once fully replayed.

        ``sink`` commits a chunk or raises; on an exception the segment stays for the next replay and the
        exception propagates.
        """
        with self._lock:
            self._seal()
        records = files = corrupt = 0
        for path in self.segments():
            done = self._replay_segment(path, sink, chunk)
            if done is None:
                continue
            records += done[0]
            corrupt += done[1]
            files += 1
        return ReplayResult(records, files, corrupt)

    def reject(self, lines: Iterable[bytes], why: str) -> None:
        """Keep lines the database refused in ``rejected/`` for a person to look at."""
        rejected = self.directory / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        target = rejected / f"{os.getpid()}{_SUFFIX}"
        data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        logger.error("moved %d spool line(s) to %s: %s", data.count(b"\n"), target, why)

    def active_bytes(self) -> int:
        """Bytes appended to the active segment (0 when there is none)."""
        return self._size if self._fd is not None else 0

    def detach(self) -> HeldSegment | None:
        """Set the active segment aside, still locked; later appends start a new one. ``None`` if there is none.

        The write-ahead log uses this to retire a segment once everything in it is stored, without a window in
        which another writer could replay it (harmless, replay is idempotent, but wasted work)."""
        with self._lock:
            if self._fd is None or self._path is None:
                return None
            held = HeldSegment(self._path, self._fd)
            self._fd, self._path, self._size, self._unsynced = None, None, 0, False
            return held

    def close(self) -> None:
        """Seal the active segment; later appends still work, each sealed at once."""
        with self._lock:
            self._closed = True
            self._seal()

    def _active_fd(self) -> int:
        if self._fd is not None:
            return self._fd
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a fresh file: nobody else can hold it yet
        self._fd, self._path, self._size = fd, path, 0
        return fd

    def _seal(self) -> None:
        if self._fd is None:
            return
        fd, self._fd, self._path = self._fd, None, None
        try:
            if self._unsynced:
                os.fsync(fd)
        finally:
            self._unsynced = False
            os.close(fd)  # releases the flock: the segment is now anyone's to replay

    def _replay_segment(self, path: Path, sink: Callable[[list[Record]], None], chunk: int) -> tuple[int, int] | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as file:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # its writer is alive and appending, or another process is replaying it
            if os.fstat(fd).st_nlink == 0:
                return None  # replayed and deleted by another process between listing and locking
            records = corrupt = 0
            batch: list[Record] = []
            bad: list[bytes] = []
            for line in file:
                try:
                    if not line.endswith(b"\n"):
                        raise ValueError("torn line (the writer died while appending it)")
                    batch.append(decode_record(line))
                except (ValueError, TypeError):
                    bad.append(line)
                    continue
                if len(batch) >= chunk:
                    sink(batch)
                    records += len(batch)
                    batch = []
            if batch:
                sink(batch)
                records += len(batch)
            if bad:
                self.reject(bad, f"unreadable lines in spool segment {path.name}")
                corrupt = len(bad)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return records, corrupt


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
