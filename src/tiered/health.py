"""Upstream health: a circuit breaker per triage tier, and in-flight caps per provider.

**Circuit breaker.** Triage calls that fail upstream (errors, timeouts, 429/5xx: not a badly written reply)
count against their model. After ``failures`` failures in a row the circuit *opens*: requests skip that
tier's triage and escalate at once (reason ``upstream_error``, attempt outcome ``skipped``), so a sick cheap
model costs no latency. After ``open_s`` seconds one request is let through as a probe (*half-open*): success
closes the circuit, failure opens it again. Final tiers are never skipped: their errors reach the client.

**In-flight caps.** A provider may have at most ``max_inflight`` calls open at once. Past that a call is refused
at once with a 529 ``overloaded_error`` and a ``retry-after`` hint, instead of queueing until it times out.

The clock is injected, so both are tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .errors import OverloadedError

__all__ = ["BreakerState", "CircuitBreaker", "InflightCaps"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class CircuitBreaker:
    def __init__(self, failures: int = 5, open_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.open_s = open_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def state(self, key: str) -> BreakerState:
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if circuit.probing or self._clock() - circuit.opened_at >= self.open_s:
            return "half_open"
        return "open"

    def allow(self, key: str) -> bool:
        """May a call to ``key`` go ahead? In half-open state, only one probe at a time."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return True
        with self._lock:
            if circuit.probing or self._clock() - circuit.opened_at < self.open_s:
                return False
            circuit.probing = True
            return True

    def record(self, key: str, ok: bool) -> None:
        circuit = self._circuits.get(key)
        if ok and circuit is not None and not circuit.failures and circuit.opened_at is None and not circuit.probing:
            return  # a healthy circuit stays as it is: the usual case, without the lock
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None:
                circuit = self._circuits[key] = _Circuit()
            if ok:
                circuit.failures, circuit.opened_at, circuit.probing = 0, None, False
                return
            circuit.failures += 1
            if circuit.probing or circuit.failures >= self.failures:
                circuit.opened_at, circuit.probing = self._clock(), False

    def release_probe(self, key: str) -> None:
        """A probe ended without a verdict (cancelled): let the next request probe."""
        circuit = self._circuits.get(key)
        if circuit is not None:
            circuit.probing = False

    def snapshot(self) -> dict[str, BreakerState]:
        return {key: self.state(key) for key in list(self._circuits)}


class InflightCaps:
    """Counts open calls per provider; :meth:`acquire` refuses past the cap instead of queueing."""

    def __init__(self, caps: dict[str, int]) -> None:
        self._caps = caps
        self._open: dict[str, int] = {}

    def acquire(self, provider: str) -> None:
        cap = self._caps.get(provider)
        count = self._open.get(provider, 0)
        if cap is not None and count >= cap:
            raise OverloadedError(
                f"tiered is at its limit of {cap} calls in flight to provider {provider!r}; retry shortly",
                retry_after=1.0,
            )
        self._open[provider] = count + 1

    def release(self, provider: str) -> None:
        self._open[provider] = max(self._open.get(provider, 1) - 1, 0)

    def in_flight(self, provider: str) -> int:
        return self._open.get(provider, 0)
