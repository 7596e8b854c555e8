"""Sliding windows of recent decisions per route: the last ``seconds`` or ``max_decisions``, whichever is fewer.

Fed by the quality loop's thread (never on the request path) and read by the alert rules. Each replica keeps
its own window; the Prometheus rules in ``deploy/prometheus/alerts.yml`` compute the same rates across
replicas from the counters.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiered.decision import Outcome

if TYPE_CHECKING:
    from tiered.decision import Decision

__all__ = ["DecisionWindow", "WindowRates"]


@dataclass(frozen=True, slots=True)
class WindowRates:
    decisions: int  # routed decisions (passthrough excluded)
    escalated: int
    attempts: int  # upstream calls, cancelled ones excluded
    errors: int

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.decisions if self.decisions else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


@dataclass(frozen=True, slots=True)
class _Entry:
    at: float
    routed: bool
    escalated: bool
    attempts: int
    errors: int


class DecisionWindow:
    def __init__(self, seconds: float, max_decisions: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._max = max_decisions
        self._clock = clock
        self._lock = threading.Lock()
        self._routes: dict[str, deque[_Entry]] = {}

    def add(self, decision: Decision) -> None:
        attempts = [a for a in decision.attempts if a.outcome is not Outcome.CANCELLED]
        entry = _Entry(
            at=self._clock(),
            routed=not decision.passthrough,
            escalated=decision.escalated and not decision.passthrough,
            attempts=len(attempts),
            errors=sum(1 for a in attempts if a.outcome is Outcome.ERROR),
        )
        key = decision.route or "passthrough"
        with self._lock:
            entries = self._routes.get(key)
            if entries is None:
                entries = self._routes[key] = deque(maxlen=self._max)
            entries.append(entry)

    def routes(self) -> list[str]:
        with self._lock:
            return list(self._routes)

    def rates(self, route: str) -> WindowRates:
        horizon = self._clock() - self._seconds
        with self._lock:
            entries = self._routes.get(route)
            if entries is None:
                return WindowRates(0, 0, 0, 0)
            while entries and entries[0].at < horizon:
                entries.popleft()
            items = list(entries)
        routed = [e for e in items if e.routed]
        return WindowRates(
            decisions=len(routed),
            escalated=sum(1 for e in routed if e.escalated),
            attempts=sum(e.attempts for e in items),
            errors=sum(e.errors for e in items),
        )
