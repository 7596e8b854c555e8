"""Upstream health: a circuit breaker per triage tier, and in-flight caps per provider.

**Circuit breaker.** Triage calls that fail for the upstream's health (429, 5xx and 529, timeouts, connection
errors, a reply that is not the API's: not a badly written answer) count against their model; see
:func:`failure_kind`. A call the upstream *rejects* (400 ``invalid_request_error`` and the other 4xx) says
nothing about its health: it escalates that one request (reason ``cheap_tier_rejected``) and never opens a
circuit, or one caller's odd requests would send everyone's traffic to the final tier. A 404
``not_found_error`` for the model is a configuration problem (a retired or misspelt model), reported as such.
After ``failures`` failures in a row the circuit *opens*: requests skip that tier's triage and escalate at once
(reason ``upstream_error``, attempt outcome ``skipped``), so a sick cheap model costs no latency.
After ``open_s`` seconds one request is let through as a probe (*half-open*): success closes the circuit,
failure opens it again. Final tiers are never skipped: their errors reach the client.

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

from .errors import OverloadedError, TieredError, UpstreamError, UpstreamStatusError

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "FailureKind",
    "InflightCaps",
    "counts_against_health",
    "failure_kind",
    "rejected_by_upstream",
]

BreakerState = Literal["closed", "open", "half_open"]

FailureKind = Literal["unhealthy", "rejected", "model_not_found"]
"""``unhealthy``: counts toward the breaker; ``rejected``: the upstream refused this request (a 4xx);
``model_not_found``: a 404 ``not_found_error``, the configured model does not exist there."""


def failure_kind(error: TieredError) -> FailureKind:
    """What a failed call says about its upstream.

    The statuses are those of https://platform.claude.com/docs/en/api/errors: 400 ``invalid_request_error``
    ("also used for other 4XX status codes"), 401, 402, 403, 404 ``not_found_error``, 409, 413 are about the
    request or the account; 429 ``rate_limit_error``, 500 ``api_error``, 504 ``timeout_error`` and 529
    ``overloaded_error`` are about capacity and health. An error event inside a stream carries its type, mapped
    to the same statuses by the provider (:func:`tiered.providers._errors.stream_error`).
    """
    if not isinstance(error, UpstreamStatusError):
        return "unhealthy"  # timeouts, connection errors, bodies that are not the API's
    status = error.status
    if status == 429 or status >= 500:
        return "unhealthy"
    if status == 404 and error.error_type == "not_found_error":
        return "model_not_found"
    return "rejected" if 400 <= status < 500 else "unhealthy"


def counts_against_health(error: TieredError) -> bool:
    """Does a call that failed with ``error`` count toward the breaker?"""
    return isinstance(error, UpstreamError) and failure_kind(error) == "unhealthy"


def rejected_by_upstream(error: TieredError | None) -> bool:
    """Did the upstream refuse this one request (a 4xx, a missing model included)? Not tiered's own
    refusals (its in-flight cap, an open circuit): those are about capacity."""
    return isinstance(error, UpstreamError) and failure_kind(error) != "unhealthy"


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

    def record_outcome(self, key: str, error: TieredError | None) -> None:
        """Record a finished call: a success, a health failure, or neither (the upstream rejected this one
        request, see :func:`failure_kind`: a probe that ends so is released, the count stays as it was)."""
        if error is None:
            self.record(key, ok=True)
        elif counts_against_health(error):
            self.record(key, ok=False)
        else:
            self.release_probe(key)

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
