"""What the orchestrator asks the load generator to do, and what it gets back (plain JSON both ways)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Call", "Job", "Mode", "Target", "TargetResult", "job_from_json"]

Mode = Literal["closed", "open", "hold"]


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request: ``POST url`` with a JSON body; ``stream`` reads it as SSE."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """What one measured request is: a single call, or calls made back to back (a naive cascade).

    For a sequence, time to first byte and first token are those of the last call, counted from the start
    of the first: what a client of such a cascade would see."""

    name: str
    calls: tuple[Call, ...]


@dataclass(frozen=True, slots=True)
class Job:
    """A load phase over one or more targets.

    ``closed``: ``concurrency`` workers send back to back for ``duration_s`` per target and round, after a
    warm-up; with ``interleave`` (concurrency 1) one worker alternates between the targets request by
    request, so they are measured under the same conditions. ``open``: requests start at ``rate`` per second
    on a fixed schedule and latency counts from the intended start (no coordinated omission). ``hold``:
    ``concurrency`` streams are opened at once and held to their end while memory is sampled.
    ``watch`` names processes (by pid) whose CPU time and memory are read around each measured slice."""

    mode: Mode
    targets: tuple[Target, ...]
    concurrency: int = 1
    warmup_s: float = 0.5
    duration_s: float = 2.0
    rounds: int = 1
    interleave: bool = False
    rate: float = 0.0
    watch: dict[str, int] = field(default_factory=dict)
    timeout_s: float = 60.0
    sample_every_s: float = 0.1


@dataclass(slots=True)
class TargetResult:
    """Measurements of one target in one job. Times in milliseconds; CPU in seconds per watched process,
    summed over the target's measured slices (the whole window when interleaved)."""

    name: str
    ok: int = 0
    errors: int = 0
    sent: int = 0  # every request started, warm-up included (the decision store must hold as many)
    error_samples: list[str] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    start_lag_ms: list[float] = field(default_factory=list)  # open loop: actual start - intended start
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    # per measured slice (closed and open loops, one per round): CPU seconds per process, and requests completed
    cpu_slices: list[dict[str, float]] = field(default_factory=list)
    ok_slices: list[int] = field(default_factory=list)
    rss_before: dict[str, int] = field(default_factory=dict)
    rss_peak: dict[str, int] = field(default_factory=dict)
    rss_all_open: dict[str, int] = field(default_factory=dict)
    max_open: int = 0
    all_open_s: float | None = None  # hold: seconds until every stream had its headers
    window: tuple[float, float] = (0.0, 0.0)  # wall-clock (time.time) bounds of the measured slices
    escalated: dict[str, int] = field(default_factory=dict)  # x-tiered-escalated values seen

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetResult:
        data = dict(data)
        data["window"] = tuple(data.get("window", (0.0, 0.0)))
        return cls(**data)


def job_to_json(job: Job) -> str:
    return json.dumps(asdict(job), separators=(",", ":"))


def job_from_json(text: str) -> Job:
    data = json.loads(text)
    targets = tuple(
        Target(
            t["name"],
            tuple(Call(c["url"], c["body"], c.get("headers", {}), c.get("stream", False)) for c in t["calls"]),
        )
        for t in data.pop("targets")
    )
    return Job(targets=targets, **data)
