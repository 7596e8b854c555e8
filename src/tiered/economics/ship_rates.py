"""How often each triage tier's answer ships, for requests like this one. In-process, updated from decisions.

Requests are alike when they share the route, the tier, a prompt-size bucket (:func:`size_bucket`), a
conversation-depth bucket (:func:`depth_bucket`) and whether their conversation escalated before. A bucket with
few triages leans on the tier's rate over all requests, which leans on :data:`PRIOR` (``PRIOR_WEIGHT``
pseudo-triages each): ``rate = (shipped + w * parent) / (triaged + w)``. Counts decay by half every
``HALF_LIFE`` triages of a bucket, so the rates follow a drifting workload.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

__all__ = ["DEPTH_BUCKETS", "PRIOR", "SIZE_BUCKETS", "ShipRates", "Similar", "depth_bucket", "size_bucket"]

# upper bounds (tokens) of the size buckets, the last one open
SIZE_BUCKETS: Final = (1_000, 8_000, 32_000, 128_000)
DEPTH_BUCKETS: Final = (1, 3, 9)  # upper bounds of conversation depth (user turns)
PRIOR: Final = 0.5
PRIOR_WEIGHT: Final = 4.0
HALF_LIFE: Final = 2_000


def size_bucket(tokens: int) -> str:
    """``<1k``, ``1k-8k``, ``8k-32k``, ``32k-128k`` or ``>=128k``."""
    low = 0
    for high in SIZE_BUCKETS:
        if tokens < high:
            return f"<{_k(high)}" if low == 0 else f"{_k(low)}-{_k(high)}"
        low = high
    return f">={_k(low)}"


def depth_bucket(depth: int) -> str:
    """``1``, ``2-3``, ``4-9`` or ``>=10`` user turns."""
    low = 1
    for high in DEPTH_BUCKETS:
        if depth <= high:
            return str(high) if low == high else f"{low}-{high}"
        low = high + 1
    return f">={low}"


def _k(tokens: int) -> str:
    return f"{tokens // 1000}k"


@dataclass(frozen=True, slots=True)
class Similar:
    """What makes requests alike for their ship rate."""

    size: str
    depth: str
    escalated_before: bool


class _Counts:
    __slots__ = ("shipped", "triaged")

    def __init__(self) -> None:
        self.shipped = 0.0
        self.triaged = 0.0

    def add(self, shipped: bool) -> None:
        if self.triaged >= HALF_LIFE:
            self.shipped, self.triaged = self.shipped / 2, self.triaged / 2
        self.triaged += 1
        self.shipped += 1 if shipped else 0

    def rate(self, parent: float) -> float:
        return (self.shipped + PRIOR_WEIGHT * parent) / (self.triaged + PRIOR_WEIGHT)


class ShipRates:
    """Ship rates per (route, tier, :class:`Similar`), and per (route, tier) over all requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tier: dict[tuple[str, int], _Counts] = {}
        self._bucket: dict[tuple[str, int, Similar], _Counts] = {}

    def observe(self, route: str, tier: int, similar: Similar, shipped: bool) -> None:
        """One triage at ``tier`` of ``route`` finished: its answer shipped or not."""
        with self._lock:
            self._tier.setdefault((route, tier), _Counts()).add(shipped)
            self._bucket.setdefault((route, tier, similar), _Counts()).add(shipped)

    def rate(self, route: str, tier: int, similar: Similar) -> tuple[float, int]:
        """(estimated ship rate, triages observed in the bucket)."""
        overall = self._tier.get((route, tier))
        parent = overall.rate(PRIOR) if overall is not None else PRIOR
        bucket = self._bucket.get((route, tier, similar))
        if bucket is None:
            return parent, 0
        return bucket.rate(parent), round(bucket.triaged)
