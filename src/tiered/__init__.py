"""tiered: a cost-cutting LLM router.

A cheap model triages each request and answers only what it can answer with high confidence; everything else
is replayed, unchanged, to the expensive model. See the README for the proxy; this package is also a library::

    import tiered

    router = tiered.Router(tiered.load_settings())
    routed = await router.create({"max_tokens": 512, "messages": [{"role": "user", "content": "Hi"}]})
    print(routed.text, routed.decision.cost_usd, routed.decision.counterfactual_cost_usd)

Importing the package does no work: submodules load when a name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiered._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import RouteSettings, Settings, TierSettings, load_settings
    from .decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
    from .errors import (
        ConfigError,
        InvalidRequestError,
        TieredError,
        UpstreamError,
        UpstreamStatusError,
    )
    from .router import Routed, Router
    from .runner.stream import RoutedStream, StreamHead
    from .sync import SyncRouter

__all__ = [
    "Attempt",
    "AttemptRole",
    "ConfigError",
    "Decision",
    "EscalationReason",
    "InvalidRequestError",
    "Outcome",
    "RouteSettings",
    "Routed",
    "RoutedStream",
    "Router",
    "Settings",
    "StreamHead",
    "SyncRouter",
    "TierSettings",
    "TieredError",
    "TokenUsage",
    "UpstreamError",
    "UpstreamStatusError",
    "load_settings",
]

_WHERE = {
    "RouteSettings": "config",
    "Settings": "config",
    "TierSettings": "config",
    "load_settings": "config",
    "Attempt": "decision",
    "AttemptRole": "decision",
    "Decision": "decision",
    "EscalationReason": "decision",
    "Outcome": "decision",
    "TokenUsage": "decision",
    "ConfigError": "errors",
    "InvalidRequestError": "errors",
    "TieredError": "errors",
    "UpstreamError": "errors",
    "UpstreamStatusError": "errors",
    "Routed": "router",
    "Router": "router",
    "RoutedStream": "runner.stream",
    "StreamHead": "runner.stream",
    "SyncRouter": "sync",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
