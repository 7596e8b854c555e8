"""The request log: every request the fake received, readable from other threads while the server runs."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]


@dataclass(slots=True)
class RequestRecord:
    """One received request and what became of it.

    ``content_events`` counts the content deltas sent (Anthropic ``content_block_delta`` events, OpenAI
    chunks carrying content), ``events`` every SSE event. ``disconnected`` is true when the client went away
    before the response was complete; ``completed`` when the response was sent in full.
    """

    request_id: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    model: str | None = None
    is_triage: bool = False
    triage_mode: str | None = None
    stream: bool = False
    status: int | None = None
    fault: str | None = None
    confidence: float | None = None
    events: int = 0
    content_events: int = 0
    writes: int = 0  # body writes of a stream: every event already due goes out in one write
    completed: bool = False
    disconnected: bool = False
    aborted: bool = False  # the fake closed the connection on purpose (timeout or drop fault)
    started_at: float = field(default_factory=time.time)
    duration_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RequestLog:
    """A bounded, thread-safe log. The server thread appends and updates records; tests read snapshots.

    Records of requests still in flight may change after a snapshot is taken: call :meth:`wait_idle` first
    when a test needs the final state (for instance after closing a stream early).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._cond = threading.Condition()
        self._in_flight = 0

    def begin(self, record: RequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._in_flight += 1

    def end(self, record: RequestRecord) -> None:
        record.duration_ms = (time.time() - record.started_at) * 1000.0
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def snapshot(self) -> list[RequestRecord]:
        with self._cond:
            return [dataclasses.replace(r) for r in self._records]

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is in flight; ``False`` if that did not happen within ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout)
