"""Summaries of latency samples and the comparisons the report makes between them. Pure functions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.harness.jobs import TargetResult

__all__ = ["Added", "Dist", "Summary", "added", "dist", "percentile", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Dist:
    """A latency distribution in milliseconds."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float


def dist(values: Sequence[float]) -> Dist | None:
    if not values:
        return None
    return Dist(
        n=len(values),
        mean=sum(values) / len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        max=max(values),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """One target in one phase: its latency distributions, throughput and the CPU time per completed
    request of each watched process (milliseconds)."""

    name: str
    ok: int
    errors: int
    sent: int
    rps: float
    total: Dist | None
    ttfb: Dist | None
    ttft: Dist | None
    start_lag: Dist | None
    cpu_ms_per_request: dict[str, float]
    escalated: dict[str, int]
    error_samples: list[str]
    cpu_ms_slices: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# With this many measured slices or more, CPU per request is their median (see cpu_per_request).
MEDIAN_FROM_SLICES = 3


def cpu_per_request(result: TargetResult) -> tuple[dict[str, float], dict[str, list[float]]]:
    """CPU milliseconds per request for each watched process, and the per-slice values behind it.

    The proxy shares a 2-core virtual machine whose speed drifts from second to second (the same pure-Python
    loop has taken from 0.15 to 0.26 s of CPU here, a second apart). With three or more slices (rounds) the
    median of the slices' values is reported, so one slow second does not decide a cell; with fewer, all
    CPU divided by all requests."""
    slices: dict[str, list[float]] = {}
    for spent, ok in zip(result.cpu_slices, result.ok_slices, strict=True):
        if ok > 0:
            for name, seconds in spent.items():
                slices.setdefault(name, []).append(seconds * 1000 / ok)
    per_request = {}
    for name, seconds in result.cpu_s.items():
        values = slices.get(name, [])
        if len(values) >= MEDIAN_FROM_SLICES:
            per_request[name] = statistics.median(values)
        else:
            per_request[name] = seconds * 1000 / result.ok if result.ok else math.nan
    return per_request, slices


def summarize(result: TargetResult) -> Summary:
    per_request, slices = cpu_per_request(result)
    return Summary(
        name=result.name,
        ok=result.ok,
        errors=result.errors,
        sent=result.sent,
        rps=result.ok / result.wall_s if result.wall_s > 0 else 0.0,
        total=dist(result.total_ms),
        ttfb=dist(result.ttfb_ms),
        ttft=dist(result.ttft_ms),
        start_lag=dist(result.start_lag_ms),
        cpu_ms_per_request=per_request,
        cpu_ms_slices=slices,
        escalated=dict(result.escalated),
        error_samples=list(result.error_samples),
    )


@dataclass(frozen=True, slots=True)
class Added:
    """What a proxy adds over a baseline, in milliseconds (difference of percentiles) and as a ratio."""

    p50: float
    p99: float
    ratio_p50: float
    ttfb_p50: float | None = None
    ttfb_p99: float | None = None
    ttft_p50: float | None = None
    ttft_p99: float | None = None


def _diff(a: Dist | None, b: Dist | None, field: str) -> float | None:
    if a is None or b is None:
        return None
    value: float = getattr(a, field) - getattr(b, field)
    return value


def added(proxy: Summary, base: Summary) -> Added | None:
    """``proxy`` minus ``base``; ``None`` when either has no samples."""
    if proxy.total is None or base.total is None:
        return None
    return Added(
        p50=proxy.total.p50 - base.total.p50,
        p99=proxy.total.p99 - base.total.p99,
        ratio_p50=proxy.total.p50 / base.total.p50 if base.total.p50 > 0 else math.nan,
        ttfb_p50=_diff(proxy.ttfb, base.ttfb, "p50"),
        ttfb_p99=_diff(proxy.ttfb, base.ttfb, "p99"),
        ttft_p50=_diff(proxy.ttft, base.ttft, "p50"),
        ttft_p99=_diff(proxy.ttft, base.ttft, "p99"),
    )
