from __future__ import annotations

import pytest

from tiered.errors import OverloadedError
from tiered.health import CircuitBreaker, InflightCaps


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
