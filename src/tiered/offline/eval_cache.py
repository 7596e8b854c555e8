"""The resumable on-disk cache of ``tiered eval``: an interrupted run resumes without paying twice.

One append-only JSON Lines file. Each successful upstream reply is appended (and flushed) the moment it
arrives, under its call key (:func:`tiered.offline.eval_plan.call_key`: a hash of the provider name and
the request body), so a rerun of the same command sends only the calls that have no reply yet. A batch is
recorded when it is submitted and again when its results are stored, so a run interrupted while batches are
processing polls those batches on resume instead of submitting (and paying for) them again. Failed calls are
not cached: a rerun retries them.

The key does not include the provider's base URL (pointing a provider at a proxy keeps the cache valid); to
start afresh, for example after changing what stands behind a provider, delete the file. A line cut short by
a crash is skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

from tiered.errors import ConfigError
from tiered.offline.eval_plan import CallReply

__all__ = ["CACHE_FORMAT", "EvalCache", "PendingBatch"]

CACHE_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A submitted batch whose results are not stored yet."""

    batch_id: str
    provider: str
    phase: str
    keys: tuple[str, ...]


class EvalCache:
    """Replies by call key and batches in flight, loaded from ``path`` and appended to as the run goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._replies: dict[str, CallReply] = {}
        self._batches: dict[str, PendingBatch] = {}
        self._handle: IO[bytes] | None = None
        self.skipped_lines = 0
        self.loaded = 0
        self._load()

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigError(f"cannot read the eval cache {self.path}: {exc.strerror or exc}") from exc
        for line in data.splitlines():
            if line.strip():
                self._apply(line)
        self.loaded = len(self._replies)

    def _apply(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or obj.get("v") != CACHE_FORMAT:
                raise ValueError("not a cache line")
            kind = obj["kind"]
            if kind == "reply":
                body = obj["body"]
                if not isinstance(body, dict):
                    raise ValueError("reply body is not an object")
                self._replies[str(obj["key"])] = CallReply(body, bool(obj.get("batch", False)))
            elif kind == "batch":
                batch = PendingBatch(str(obj["batch_id"]), str(obj["provider"]), str(obj["phase"]), tuple(obj["keys"]))
                self._batches[batch.batch_id] = batch
            elif kind == "batch_done":
                self._batches.pop(str(obj["batch_id"]), None)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, KeyError, TypeError):
            self.skipped_lines += 1  # a line cut short by a crash, or not ours

    def __contains__(self, key: str) -> bool:
        return key in self._replies

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: str) -> CallReply | None:
        return self._replies.get(key)

    def replies(self) -> dict[str, CallReply]:
        """A snapshot of every stored reply, by call key."""
        return dict(self._replies)

    def put(self, key: str, reply: CallReply) -> None:
        self._replies[key] = reply
        self._write({"v": CACHE_FORMAT, "kind": "reply", "key": key, "batch": reply.batch, "body": reply.body})

    def pending_batches(self, phase: str) -> list[PendingBatch]:
        return [b for b in self._batches.values() if b.phase == phase]

    def add_batch(self, batch: PendingBatch) -> None:
        self._batches[batch.batch_id] = batch
        self._write(
            {
                "v": CACHE_FORMAT,
                "kind": "batch",
                "batch_id": batch.batch_id,
                "provider": batch.provider,
                "phase": batch.phase,
                "keys": list(batch.keys),
            }
        )

    def end_batch(self, batch_id: str) -> None:
        if self._batches.pop(batch_id, None) is not None:
            self._write({"v": CACHE_FORMAT, "kind": "batch_done", "batch_id": batch_id})

    def _write(self, obj: dict[str, Any]) -> None:
        handle = self._open()
        handle.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
        # Flushed line by line: a reply paid for must survive the process being interrupted right after.
        handle.flush()

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = self.path.open("ab")
                if handle.tell() > 0:
                    with self.path.open("rb") as existing:
                        existing.seek(-1, os.SEEK_END)
                        if existing.read(1) != b"\n":
                            handle.write(b"\n")  # end a line a crash cut short, so the next one stays whole
            except OSError as exc:
                raise ConfigError(f"cannot write the eval cache {self.path}: {exc.strerror or exc}") from exc
            self._handle = handle
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                os.fsync(handle.fileno())
            finally:
                handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
