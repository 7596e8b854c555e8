"""The decision writer: every decision reaches the database, off the request path.

:meth:`DecisionWriter.submit` puts the decision on a bounded in-memory queue and returns; it never blocks on
the database and never raises. One background thread drains the queue in batches (one multi-row insert per
table, one transaction per batch; after a batch's first decision it waits ``linger_s`` for more, so that a
burst of requests shares one transaction). When the database fails, the batch goes to the :class:`~.spool.Spool`
(local append-only files) and the thread retries with exponential backoff; once the database answers again
the spool is replayed into it. When the queue is full, ``submit`` appends the decision to the spool itself
(one ``write(2)``, no fsync). Nothing is dropped silently: see :class:`WriterStats`.

What each guarantee covers:

* A decision counts as *acknowledged* once it is committed (``written``) or its spool append returned
  (``spooled``); :attr:`WriterConfig.on_persisted` is told its id at that moment.
* Write-ahead (``write_ahead=True``, the default): ``submit`` first appends the decision to a write-ahead
  segment in the spool directory (one ``write(2)`` of one line, on the caller's thread), so a decision is
  on disk before ``submit`` returns, and so before its response's last byte is sent. ``kill -9`` of the
  process then loses no submitted decision: the kernel has the bytes (the page cache outlives the process)
  and the next writer on the same spool directory replays the dead process's segments (the kernel drops
  their locks). Replay is idempotent by decision id, so a decision both logged and committed is stored once.
  The writer thread retires a write-ahead segment (deletes it) once every decision in it is committed or
  spooled; a new one starts every ``write_ahead_rotate_bytes`` or ``write_ahead_rotate_s``.
* Without write-ahead, ``kill -9`` loses the decisions not yet acknowledged: those in the in-memory queue
  (at most ``queue_size``) and the batch being inserted (at most ``batch_size``).
* An operating-system crash or power loss can, in addition, lose appends not yet fsynced: write-ahead
  appends unless ``write_ahead_fsync=True`` (an fsync per decision on the request path: durable, and slow),
  spool appends since the writer thread's last fsync (with ``fsync=True`` it fsyncs each spooled batch and,
  within one loop turn, what ``submit`` spooled) and, on SQLite, the last transactions
  (``synchronous=NORMAL``; see :mod:`.engine`).
* :meth:`DecisionWriter.close` (call it on shutdown) drains the queue into the database, or into the spool
  when the database is down, and replays the spool if the database is up.

The write-ahead costs the request path the decision's serialisation (which the writer thread no longer
does: the queued record is reused) and one ``write(2)``; docs/reliability.md has the measurement.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tiered.decision import Decision
from tiered.inbox import Inbox
from tiered.store.privacy import Content, cleanup
from tiered.store.records import Record, encode_record, insert_records, to_record
from tiered.store.spool import Spool
from tiered.store.wal import WriteAheadLog

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["DecisionWriter", "PersistedHook", "WriterConfig", "WriterStats"]

logger = logging.getLogger("tiered.store.writer")

PersistedHook = Callable[[Sequence[str], Literal["db", "spool"]], None]


@dataclass(frozen=True, slots=True)
class WriterConfig:
    """How the writer batches, retries, spools and cleans up."""

    spool_dir: Path | None = None  # None: a directory per database under TIERED_HOME/spool
    queue_size: int = 10_000
    batch_size: int = 500
    linger_s: float = 0.02  # after the first decision of a batch, wait this long for more: one transaction for a burst
    fsync: bool = True
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    content_retention: timedelta = timedelta(days=30)
    cleanup_interval_s: float | None = 3600.0  # None: another process runs the retention cleanup
    spool_scan_interval_s: float = 30.0  # how often to look for segments other processes left behind
    on_persisted: PersistedHook | None = None  # called on the writer thread (or submit's, when it spools)
    write_ahead: bool = True  # each decision on disk before submit returns (kill -9 loses none)
    write_ahead_fsync: bool = False  # also fsync it (survives power loss; a disk flush per request)
    write_ahead_rotate_bytes: int = 1024 * 1024
    write_ahead_rotate_s: float = 1.0


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since the writer was created.

    ``submitted = written + spooled + dropped + rejected + queue_depth + (the batch in flight)``.
    ``replayed`` counts spool records inserted later (by this writer, from any process's segments); a segment
    cut short by a new outage is replayed again and counted again.
    """

    submitted: int
    written: int
    spooled: int
    replayed: int
    dropped: int  # lost: the spool itself failed (logged as errors)
    rejected: int  # refused by the database as invalid; kept in the spool's rejected/ directory
    queue_depth: int
    database_available: bool
    last_error: str | None


_Item = tuple[Decision, Content | None, Record | None]  # the record when submit already made it


class DecisionWriter:
    """Records decisions in the background; use as a context manager or call :meth:`start` and :meth:`close`."""

    def __init__(self, engine: Engine, config: WriterConfig | None = None) -> None:
        from sqlalchemy import exc as sa_exc

        from tiered.store.paths import default_spool_dir

        self.config = config or WriterConfig()
        self._engine = engine
        spool_dir = self.config.spool_dir or default_spool_dir(engine.url.render_as_string(hide_password=True))
        self._spool = Spool(spool_dir)
        # segments of its own in the spool's directory: a dead process's are replayed with the spool's
        self._wal = (
            WriteAheadLog(
                spool_dir,
                fsync=self.config.write_ahead_fsync,
                rotate_bytes=self.config.write_ahead_rotate_bytes,
                rotate_s=self.config.write_ahead_rotate_s,
            )
            if self.config.write_ahead
            else None
        )
        self._queue: Inbox[_Item] = Inbox(self.config.queue_size)
        self._cond = threading.Condition()
        self._submitted = self._written = self._spooled = self._replayed = 0
        self._dropped = self._rejected = self._enqueued = self._processed = 0
        self._closed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False
        self._backoff = self.config.retry_initial_s
        self._next_probe = 0.0
        self._last_error: str | None = None
        self._spool_hint = True  # look for leftovers from an earlier run on the first turn
        self._next_scan = 0.0
        self._next_cleanup = 0.0
        self._last_overflow_log = 0.0
        self._bad_data = (sa_exc.IntegrityError, sa_exc.DataError)

    # -- caller side ------------------------------------------------------------------------------------

    def start(self) -> DecisionWriter:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tiered-decision-writer", daemon=True)
            self._thread.start()
            atexit.register(self.close)
        return self

    def submit(self, decision: Decision, content: Content | None = None) -> None:
        """Queue ``decision`` (with its text, if it is to be kept) for storage, after appending it to the
        write-ahead log when that is on. Never blocks on the database, never raises."""
        try:
            record = None
            wal = self._wal
            if wal is not None:
                # the writer thread reuses the record: the log moves its serialisation here, it does not add one
                record = to_record(decision, content, self.config.content_retention)
                with wal.lock:
                    if not self._closed:
                        wal.append(encode_record(record), record.id)
                        if self._enqueue((decision, content, record)):
                            return
            elif not self._closed and self._enqueue((decision, content, None)):
                return
            with self._cond:
                self._submitted += 1
            self._overflow(decision, content, record)
        except Exception:
            logger.exception("decision %s could not be queued or spooled and is LOST", decision.id)
            with self._cond:
                self._dropped += 1

    def _enqueue(self, item: _Item) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        with self._cond:
            self._submitted += 1
            self._enqueued += 1
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written or spooled; ``False`` on timeout."""
        with self._cond:
            target = self._enqueued
            return self._cond.wait_for(lambda: self._processed >= target, timeout)

    def close(self, timeout: float = 30.0) -> WriterStats:
        """Drain the queue (to the database, else the spool), replay the spool if possible, stop the thread."""
        with self._wal.lock if self._wal is not None else contextlib.nullcontext(), self._cond:
            already, self._closed = self._closed, True
        if already:
            return self.stats()
        thread = self.start()._thread
        atexit.unregister(self.close)
        self._stopping.set()
        assert thread is not None
        thread.join(timeout)
        if thread.is_alive():
            logger.error(
                "the decision writer did not finish within %.0fs (database hung?); spooling what is queued, "
                "the batch being inserted is lost if the process exits now",
                timeout,
            )
        # Anything a racing submit queued after the thread's last look goes to the spool.
        leftovers: list[_Item] = []
        while True:
            try:
                leftovers.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for decision, content, record in leftovers:
            try:
                self._overflow(decision, content, record)
            except Exception:
                logger.exception("decision %s could not be spooled at shutdown and is LOST", decision.id)
                with self._cond:
                    self._dropped += 1
        with self._cond:
            self._processed += len(leftovers)
            self._cond.notify_all()
        self._spool.close()
        if not thread.is_alive():  # else the thread still owns the log: the process exit releases it
            self._retire_wal(everything=True)
        return self.stats()

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                submitted=self._submitted,
                written=self._written,
                spooled=self._spooled,
                replayed=self._replayed,
                dropped=self._dropped,
                rejected=self._rejected,
                queue_depth=self._queue.qsize(),
                database_available=not self._down,
                last_error=self._last_error,
            )

    def __enter__(self) -> DecisionWriter:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _overflow(self, decision: Decision, content: Content | None, record: Record | None) -> None:
        record = record or to_record(decision, content, self.config.content_retention)
        self._spool_out([record], sync=False)
        now = time.monotonic()
        if now - self._last_overflow_log > 10.0:
            self._last_overflow_log = now
            logger.warning("decision queue full (%d): spooling to %s", self.config.queue_size, self._spool.directory)

    # -- writer thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                items = self._take()
                if items:
                    self._process(items)
                elif self._stopping.is_set():
                    break
                self._maintain(time.monotonic())
            except Exception:
                # A bug here must not stop recording: what is queued is still written or spooled next turn.
                logger.exception("unexpected error in the decision writer; continuing")
                time.sleep(0.1)
        if not self._down:
            self._replay()

    def _take(self) -> list[_Item]:
        try:
            first = self._queue.get_nowait() if self._stopping.is_set() else self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        items = [first]
        self._take_more(items)
        if len(items) < self.config.batch_size and self.config.linger_s > 0 and not self._stopping.is_set():
            # Under load decisions come in bursts: gathering them costs a few milliseconds of delay and saves a
            # transaction (and the thread's wake-ups) per decision.
            time.sleep(self.config.linger_s)
            self._take_more(items)
        return items

    def _take_more(self, items: list[_Item]) -> None:
        while len(items) < self.config.batch_size:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _process(self, items: list[_Item]) -> None:
        records: list[Record] = []
        for decision, content, record in items:
            try:
                records.append(record or to_record(decision, content, self.config.content_retention))
            except Exception:
                logger.exception("decision %r cannot be turned into rows and is LOST", getattr(decision, "id", "?"))
                with self._cond:
                    self._dropped += 1
        try:
            self._store(records)
        finally:
            with self._cond:
                self._processed += len(items)
                self._cond.notify_all()

    def _store(self, records: list[Record]) -> None:
        if self._down and (self._stopping.is_set() or time.monotonic() < self._next_probe):
            self._spool_out(records, sync=self.config.fsync)
            return
        failure: Exception | None = None
        # One quick retry when the database was fine until now: a transient failure should not cost a spool
        # round trip. Once it is known to be down, the backoff decides when to try again.
        attempts = 1 if self._down or self._stopping.is_set() else 2
        for attempt in range(attempts):
            if attempt:
                time.sleep(0.05)
            try:
                accepted = self._insert(records)
            except Exception as exc:
                failure = exc
                continue
            self._mark_up()
            self._count_written(accepted)
            return
        assert failure is not None
        self._mark_down(failure)
        self._spool_out(records, sync=self.config.fsync)

    def _count_written(self, accepted: list[Record]) -> None:
        with self._cond:
            self._written += len(accepted)
        self._notify([r.id for r in accepted], "db")

    def _insert(self, records: list[Record]) -> list[Record]:
        """Commit ``records``; isolate and reject rows the database refuses. Outages propagate."""
        try:
            with self._engine.begin() as connection:
                insert_records(connection, records)
            return records
        except self._bad_data as exc:
            if len(records) == 1:
                self._reject(records, exc)
                return []
        accepted: list[Record] = []
        for record in records:
            try:
                with self._engine.begin() as connection:
                    insert_records(connection, [record])
            except self._bad_data as exc:
                self._reject([record], exc)
            else:
                accepted.append(record)
        return accepted

    def _reject(self, records: list[Record], exc: Exception) -> None:
        try:
            self._spool.reject([encode_record(r) for r in records], f"the database refused them: {exc}")
        except Exception:
            logger.exception("%d decision(s) refused by the database could not be kept and are LOST", len(records))
            with self._cond:
                self._dropped += len(records)
            return
        with self._cond:
            self._rejected += len(records)

    def _spool_out(self, records: list[Record], *, sync: bool) -> None:
        if not records:
            return
        try:
            self._spool.append([encode_record(r) for r in records], sync=sync)
        except Exception:
            logger.critical(
                "the spool at %s failed: %d decision(s) are LOST",
                self._spool.directory,
                len(records),
                exc_info=True,
            )
            with self._cond:
                self._dropped += len(records)
            return
        with self._cond:
            self._spooled += len(records)
        self._spool_hint = True
        self._notify([r.id for r in records], "spool")

    def _notify(self, ids: list[str], where: Literal["db", "spool"]) -> None:
        hook = self.config.on_persisted
        if hook is None or not ids:
            return
        try:
            hook(ids, where)
        except Exception:
            logger.exception("the on_persisted hook failed")

    def _mark_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._down:
            self._backoff = min(self._backoff * 2, self.config.retry_max_s)
        else:
            self._backoff = self.config.retry_initial_s
            logger.warning(
                "the decision database is unavailable (%s); spooling to %s and retrying with backoff",
                _short(exc),
                self._spool.directory,
            )
        self._down = True
        self._next_probe = now + self._backoff
        with self._cond:
            self._last_error = _short(exc)

    def _mark_up(self) -> None:
        if self._down:
            logger.warning("the decision database is back; replaying the spool")
            self._down = False
            self._backoff = self.config.retry_initial_s
            self._spool_hint = True

    def _retire_wal(self, *, everything: bool = False) -> None:
        if self._wal is None:
            return
        with self._cond:
            processed, lost = self._processed, self._dropped
        if everything and lost:  # the spool failed: keep the log for the next writer to replay
            self._wal.release()
        else:
            self._wal.retire(lambda: self._enqueued, processed, everything=everything)

    def _maintain(self, now: float) -> None:
        self._retire_wal()
        if self.config.fsync:
            try:
                self._spool.sync()
            except OSError:
                logger.exception("could not fsync the spool at %s", self._spool.directory)
        if now >= self._next_scan:
            self._next_scan = now + self.config.spool_scan_interval_s
            try:
                self._spool_hint = self._spool_hint or bool(self._spool.segments())
            except OSError:
                logger.exception("could not list the spool at %s", self._spool.directory)
        if self._spool_hint and (not self._down or now >= self._next_probe):
            self._replay()
        interval = self.config.cleanup_interval_s
        if interval is not None and not self._down and now >= self._next_cleanup:
            self._next_cleanup = now + interval
            try:
                cleared = cleanup(self._engine, datetime.now(UTC))
            except Exception as exc:
                logger.warning("content retention cleanup failed, retrying in %.0fs: %s", interval, _short(exc))
            else:
                if cleared:
                    logger.info("cleared stored text of %d decision(s) past retention", cleared)

    def _replay(self) -> None:
        try:
            result = self._spool.replay(self._replay_chunk, chunk=self.config.batch_size)
        except OSError:
            logger.exception("could not read the spool at %s", self._spool.directory)
            return
        except Exception as exc:
            self._mark_down(exc)
            return
        self._spool_hint = False
        if result.corrupt:
            with self._cond:
                self._rejected += result.corrupt
        if result.files:
            logger.info("replayed %d spooled decision(s) from %d segment(s)", result.records, result.files)

    def _replay_chunk(self, records: list[Record]) -> None:
        accepted = self._insert(records)
        self._mark_up()
        with self._cond:
            self._replayed += len(accepted)


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."
