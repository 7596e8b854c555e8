from __future__ import annotations

import pytest

from tiered.errors import (
    OverloadedError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from tiered.health import CircuitBreaker, InflightCaps, failure_kind, rejected_by_upstream


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_probes_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, open_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow("m")
        breaker.record("m", ok=False)
    assert breaker.state("m") == "closed"
    breaker.record("m", ok=False)
    assert breaker.state("m") == "open" and not breaker.allow("m")
    clock.now = 9.9
    assert not breaker.allow("m")
    clock.now = 10.0
    assert breaker.allow("m")  # the probe
    assert not breaker.allow("m")  # only one probe at a time
    breaker.record("m", ok=False)  # failed probe: open again for a full period
    assert breaker.state("m") == "open"
    clock.now = 20.0
    assert breaker.allow("m")
    breaker.record("m", ok=True)
    assert breaker.state("m") == "closed" and breaker.allow("m") and breaker.allow("m")


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures=2, open_s=10, clock=Clock())
    breaker.record("m", ok=False)
    breaker.record("m", ok=True)
    breaker.record("m", ok=False)
    assert breaker.state("m") == "closed"
    assert breaker.state("other") == "closed"


def test_cancelled_probe_lets_the_next_request_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_s=1, clock=clock)
    breaker.record("m", ok=False)
    clock.now = 1
    assert breaker.allow("m") and not breaker.allow("m")
    breaker.release_probe("m")
    assert breaker.allow("m")


def test_inflight_caps_refuse_fast() -> None:
    caps = InflightCaps({"anthropic": 2})
    caps.acquire("anthropic")
    caps.acquire("anthropic")
    with pytest.raises(OverloadedError) as err:
        caps.acquire("anthropic")
    assert err.value.status == 529 and err.value.retry_after == 1.0
    caps.release("anthropic")
    caps.acquire("anthropic")
    caps.acquire("uncapped")
    assert caps.in_flight("anthropic") == 2


def status_error(status: int, error_type: str) -> UpstreamStatusError:
    return UpstreamStatusError("upstream said no", status=status, error_type=error_type)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (status_error(400, "invalid_request_error"), "rejected"),
        (status_error(401, "authentication_error"), "rejected"),
        (status_error(403, "permission_error"), "rejected"),
        (status_error(413, "request_too_large"), "rejected"),
        (status_error(404, "not_found_error"), "model_not_found"),
        (status_error(429, "rate_limit_error"), "unhealthy"),
        (status_error(500, "api_error"), "unhealthy"),
        (status_error(504, "timeout_error"), "unhealthy"),
        (status_error(529, "overloaded_error"), "unhealthy"),
        (UpstreamTimeoutError("slow"), "unhealthy"),
        (UpstreamConnectionError("refused"), "unhealthy"),
        (UpstreamProtocolError("not JSON"), "unhealthy"),
    ],
)
def test_failure_kinds(error: UpstreamError, kind: str) -> None:
    assert failure_kind(error) == kind
    assert rejected_by_upstream(error) == (kind != "unhealthy")


def test_tiered_own_refusals_are_not_upstream_rejections() -> None:
    assert not rejected_by_upstream(OverloadedError("tiered is at its limit"))
    assert not rejected_by_upstream(None)


def test_a_rejection_neither_counts_nor_resets_and_frees_a_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, open_s=10, clock=clock)
    breaker.record_outcome("m", status_error(529, "overloaded_error"))
    for _ in range(10):
        breaker.record_outcome("m", status_error(400, "invalid_request_error"))
    assert breaker.state("m") == "closed"
    breaker.record_outcome("m", status_error(500, "api_error"))  # the second health failure in a row
    assert breaker.state("m") == "open"
    clock.now = 10.0
    assert breaker.allow("m")  # the probe...
    breaker.record_outcome("m", status_error(400, "invalid_request_error"))  # ...tells nothing about health
    assert breaker.allow("m")  # so the next request probes
    breaker.record_outcome("m", None)
    assert breaker.state("m") == "closed"
