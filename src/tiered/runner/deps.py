"""What the runner is given: the providers, prices, clock, breaker, caps and the decision sink.

The runner never reaches back into the :class:`~tiered.router.Router` that built it: the router (a facade:
configuration, route lookup, threshold overrides) hands it one :class:`Deps`, built once, and the runner's
parts read only that. A test can build one around function-backed providers and a list as the sink.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..cascade.policy import Calibrator
    from ..confidence.strategy import ConfidenceStrategy
    from ..config import RouteSettings, TierSettings
    from ..decision import Decision
    from ..economics.advisor import Economics
    from ..health import CircuitBreaker, InflightCaps
    from ..pricing import PriceBook
    from ..providers.base import Provider
    from .attempts import Exchange

__all__ = ["CalibratorSource", "DecisionSink", "Deps", "ExplorerHook", "ProviderSource"]


class ProviderSource(Protocol):
    """Which provider answers a tier (:class:`tiered.upstreams.Upstreams` is one)."""

    def for_tier(self, tier: TierSettings, *, triage: bool) -> Provider: ...


class DecisionSink(Protocol):
    """Where finished decisions go (the router's observers). Must not block; called once per request."""

    def __call__(self, decision: Decision, exchange: Exchange) -> None: ...


class CalibratorSource(Protocol):
    """How a tier's confidence is scored: its confidence strategy (:mod:`tiered.confidence.strategy`) or its
    recalibration map; ``None`` for the bare stated confidence."""

    def __call__(self, route: RouteSettings, tier: int) -> Calibrator | ConfidenceStrategy | None: ...


class ExplorerHook(Protocol):
    """Takes over some escalated first-tier triages to read them to their end in background
    (:class:`tiered.quality.explore.Explorer`): ``wants`` is cheap, ``adopt`` owns the leg's open stream."""

    def wants(self, decision_id: str, route: str, spec: RouteSettings) -> bool: ...

    def adopt(self, decision_id: str, route: str, leg: Any) -> None: ...  # a runner.legs.Leg (no import cycle)


@dataclass(frozen=True, slots=True)
class Deps:
    providers: ProviderSource
    prices: PriceBook
    breaker: CircuitBreaker
    caps: InflightCaps
    sink: DecisionSink
    calibrate_for: CalibratorSource
    replica: str = ""  # this process's name in decisions
    economics: Economics | None = None  # the expected-cost advice before each cascade (tiered.economics)
    clock: Callable[[], float] = field(default=time.perf_counter)  # seconds, monotonic
    explorer: ExplorerHook | None = None  # exploration in live mode (tiered.quality.explore)

    def calibrators(self, route: RouteSettings) -> dict[int, Calibrator | ConfidenceStrategy]:
        """How ``route``'s tiers' confidences are scored, by tier (tiers with the bare confidence left out)."""
        found: dict[int, Calibrator | ConfidenceStrategy] = {}
        for tier in range(len(route.tiers)):
            calibrate = self.calibrate_for(route, tier)
            if calibrate is not None:
                found[tier] = calibrate
        return found
