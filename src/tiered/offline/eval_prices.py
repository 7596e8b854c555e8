"""What an evaluation's calls cost, at standard rates and through the Message Batches API.

Standard costs come from :class:`tiered.pricing.PriceBook` (genai-prices), as for routed requests. Batch
costs use genai-prices' ``processing = batch`` price variant when the installed snapshot has one for the
model (it does for the current Claude models: 50% of every token rate, cache reads and writes included);
for a model without one, Anthropic's documented batch discount is applied: :data:`BATCH_DISCOUNT` of the
standard cost (https://platform.claude.com/docs/en/build-with-claude/batch-processing#pricing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from tiered.accounting import without_triage_overhead
from tiered.decision import TokenUsage
from tiered.pricing import PriceBook, calc_with_genai_prices, provider_and_model

__all__ = ["BATCH_DISCOUNT", "EvalPricer"]

BATCH_DISCOUNT: Final = 0.5
_BATCH_CONTEXT: Final = {"processing": "batch"}


class EvalPricer:
    """Prices calls; ``batch=True`` prices a call answered through the Message Batches API."""

    def __init__(self, prices: PriceBook) -> None:
        self.prices = prices
        self._has_variant: dict[str, bool] = {}

    def known(self, model: str) -> bool:
        return self.prices.known(model)

    def cost(self, model: str, usage: TokenUsage, *, batch: bool = False) -> float | None:
        standard = self.prices.cost(model, usage)
        if standard is None or not batch:
            return standard
        if self._batch_variant(model):
            priced = _calc_batch(model, usage)
            if priced is not None:
                return priced
        return standard * BATCH_DISCOUNT

    def plain_cost(self, model: str, triage_usage: TokenUsage) -> float | None:
        """Tier 0 answering alone, estimated from its triage call (less the triage instruction and the JSON
        wrapper, as :mod:`tiered.accounting` estimates a counterfactual), at standard rates."""
        return self.prices.cost(model, without_triage_overhead(triage_usage))

    def _batch_variant(self, model: str) -> bool:
        known = self._has_variant.get(model)
        if known is None:
            known = _find_batch_variant(model)
            self._has_variant[model] = known
        return known


def _find_batch_variant(model: str) -> bool:
    from genai_prices.data_snapshot import get_snapshot

    provider_id, name = provider_and_model(model)
    try:
        _, info = get_snapshot().find_provider_model(name, None, provider_id, None)
    except LookupError:
        return False
    now = datetime.now(tz=UTC)
    variants: list[Any] = list(getattr(info, "price_variants", None) or [])
    return any(
        getattr(v, "when", None) == _BATCH_CONTEXT and (v.constraint is None or v.constraint.active(now))
        for v in variants
    )


def _calc_batch(model: str, usage: TokenUsage) -> float | None:
    return calc_with_genai_prices(model, usage, price_context=_BATCH_CONTEXT)
