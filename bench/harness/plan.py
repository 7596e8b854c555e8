"""How much to measure: the full run and the quick one differ only in these numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Plan", "full_plan", "quick_plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    quick: bool
    concurrencies: tuple[int, ...]
    modes: tuple[str, ...] = ("json", "stream")
    shapes: tuple[str, ...] = ("shipped", "passthrough", "escalated")
    warmup_s: float = 0.5
    c1_duration_s: float = 1.5  # per target, interleaved
    duration_s: float = 1.0  # per target and round, concurrency > 1
    rounds: int = 5  # CPU per request is the median of the rounds (bench/harness/stats.py)
    realistic_concurrency: int = 16
    realistic_duration_s: float = 4.0
    open_rate: float = 150.0
    open_duration_s: float = 4.0
    decisions_concurrency: int = 64
    decisions_duration_s: float = 6.0
    memory_streams: int = 1000
    hedge_after_ms: int = 150
    peers: tuple[str, ...] = field(default=())
    others: bool = True


def full_plan(peers: tuple[str, ...] = (), others: bool = True) -> Plan:
    return Plan(quick=False, concurrencies=(1, 16, 64, 256), peers=peers, others=others)


def quick_plan(peers: tuple[str, ...] = (), others: bool = False) -> Plan:
    return Plan(
        quick=True,
        concurrencies=(1, 64),
        warmup_s=0.3,
        c1_duration_s=0.6,
        duration_s=0.6,
        rounds=1,
        realistic_concurrency=8,
        realistic_duration_s=2.5,
        open_rate=100.0,
        open_duration_s=1.5,
        decisions_duration_s=2.0,
        memory_streams=200,
        peers=peers,
        others=others,
    )
