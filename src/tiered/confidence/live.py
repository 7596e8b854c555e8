"""The proxy's side of the confidence strategies: which strategy a route's tier runs, its model loaded once.

The router asks :meth:`StrategyCache.for_tier` for each triage tier; ``None`` means the tier keeps today's
rule (the stated confidence through its recalibration map). A ``learned`` model file is read on first use
and kept per (file, pinned version); a file that cannot be read is a :class:`~tiered.errors.ConfigError`
naming the file, never a 500 on a request. Changing the file takes a restart (or a new router).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tiered.errors import ConfigError

from .model_file import load_learned
from .strategy import Learned

if TYPE_CHECKING:
    from tiered.config import RouteSettings

__all__ = ["StrategyCache"]


class StrategyCache:
    def __init__(self) -> None:
        self._learned: dict[tuple[Path, int | None], Learned] = {}

    def for_tier(self, route: RouteSettings, tier: int) -> Learned | None:
        """``tier``'s strategy when it is not the plain self-report, loaded once per model file."""
        kind, path, version = route.confidence_for(tier)
        if kind != "learned" or path is None or tier == len(route.tiers) - 1:
            return None
        key = (path, version)
        cached = self._learned.get(key)
        if cached is None:
            try:
                cached = self._learned[key] = load_learned(path, version)
            except ValueError as exc:
                raise ConfigError(f"cannot load the learned confidence model: {exc}") from exc
        return cached
