"""The record type of the capability table (see :mod:`tiered.cascade.capabilities`, which re-exports it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

__all__ = ["Capabilities", "SamplingRule", "ThinkingMode"]

ThinkingMode = Literal["enabled", "adaptive"]
SamplingRule = Literal["any", "one_of", "none"]


def _no_sources() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one model accepts. ``thinking`` lists the thinking types accepted besides ``"disabled"``;
    ``sampling`` is ``any`` (temperature, top_p, top_k in any combination), ``one_of`` (temperature and top_p
    not together) or ``none`` (temperature, top_p and top_k all rejected). ``sources`` maps a fact's name to
    the URL it was taken from."""

    model: str
    display_name: str
    aliases: tuple[str, ...]
    context_window: int
    max_output: int
    prefill: bool
    thinking: frozenset[ThinkingMode]
    effort: bool
    structured_outputs: bool
    citations: bool
    sampling: SamplingRule
    deprecated: date | None
    retired: date | None
    known: bool = True
    sources: Mapping[str, str] = field(default_factory=_no_sources, hash=False, compare=False)
    thinking_required: bool = False  # thinking cannot be turned off ("disabled" answers 400)
    min_thinking_budget: int = 1024  # the smallest budget_tokens for thinking "enabled"
    forced_tool_choice: bool = True  # accepts tool_choice "any"/"tool" (a "tool"-mode triage needs it)

    def ids(self) -> tuple[str, ...]:
        """Every id the API accepts for this model: the canonical id first."""
        return (self.model, *self.aliases)
