"""Costs from genai-prices' bundled data; no price is kept by hand here.

genai-prices resolves a model and computes a price in about 100 µs, too slow for a proxy's hot path. So the
:class:`PriceBook` resolves each model once and, when its current price is a flat per-token rate (the case for
the Claude models tiered routes by default), keeps those rates and multiplies. Any other price shape (context
tiers, conditional prices it cannot flatten) goes through ``genai_prices.calc_price`` itself. Tests check both
paths against genai-prices to the last digit.

Usage convention: tiered's :class:`~tiered.decision.TokenUsage` follows Anthropic (``input_tokens`` excludes
cache reads and writes); genai-prices wants total input, so the two are added here. Cache writes are split by
TTL as the Messages API reports them (``usage.cache_creation``): 1-hour writes at genai-prices' "1h cache write"
rate (2x input for Claude), the rest at its cache-write rate (1.25x, the 5-minute TTL). A fast-mode call
(``usage.speed == "fast"``) is priced at genai-prices' fast-mode variant where the model has one. Server-tool use is
priced where genai-prices has a unit for it: web searches ("web searches K", $10 per thousand for Claude).
Web fetches are counted but have no price of their own in genai-prices (the tool's fetched content is billed
as input tokens). A model without a 1-hour rate prices those writes at its cache-write rate, as genai-prices
does. Long-context prices (genai-prices' tiered prices, e.g. Sonnet 4.5 above 200k input tokens) go through
genai-prices itself, which picks the tier by the request's whole input, cache reads and writes included.

An unknown model has no price: its cost is ``None``, never zero. tiered never starts genai-prices' runtime
price updater, so prices come from the installed package's snapshot and change only when it is upgraded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from .decision import TokenUsage

__all__ = [
    "ModelRates",
    "PriceBook",
    "calc_with_genai_prices",
    "default_price_book",
    "genai_usage",
    "price_context",
    "provider_and_model",
]


@dataclass(frozen=True, slots=True)
class ModelRates:
    """Flat USD prices per million tokens, as genai-prices gives them."""

    input_mtok: float
    output_mtok: float
    cache_read_mtok: float
    cache_write_mtok: float
    cache_write_1h_mtok: float
    web_searches_kcount: float = 0.0

    def cost(self, usage: TokenUsage) -> float:
        tokens = (
            usage.input_tokens * self.input_mtok
            + usage.output_tokens * self.output_mtok
            + usage.cache_read_input_tokens * self.cache_read_mtok
            + (usage.cache_creation_input_tokens - usage.cache_creation_1h_input_tokens) * self.cache_write_mtok
            + usage.cache_creation_1h_input_tokens * self.cache_write_1h_mtok
        ) / 1_000_000
        return tokens + usage.web_search_requests * self.web_searches_kcount / 1_000


# The price keys the flat rates above cover; a model priced by any other key goes through genai-prices.
_FLAT_KEYS: Final = frozenset(
    {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok", "web_searches_kcount"}
)


def provider_and_model(model: str) -> tuple[str, str]:
    """Split a tier name into (genai-prices provider id, model id): ``openai:gpt-4o`` -> (openai, gpt-4o)."""
    if ":" in model:
        provider, _, name = model.partition(":")
        return provider, name
    return "anthropic", model


_MISSING = object()


class PriceBook:
    """Thread-safe cache of resolved model prices."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = {}

    def _entry(self, model: str) -> Any:
        entry = self._entries.get(model, _MISSING)
        if entry is not _MISSING:
            return entry
        entry = self._resolve(model)
        with self._lock:
            self._entries[model] = entry
        return entry

    @staticmethod
    def _resolve(model: str) -> Any:
        """Flat rates, the string ``"calc"`` (price through genai-prices each time), or ``None`` (unknown)."""
        from genai_prices.data_snapshot import get_snapshot

        provider_id, name = provider_and_model(model)
        try:
            _, info = get_snapshot().find_provider_model(name, None, provider_id, None)
        except LookupError:
            return None
        price = info.get_prices(datetime.now(tz=UTC))
        values = {key: value for key, value in vars(price).items() if value is not None}
        flat = values.keys() <= _FLAT_KEYS and all(isinstance(v, Decimal) for v in values.values())
        if not flat or "input_mtok" not in values:
            return "calc"
        rate = {key: float(value) for key, value in values.items()}
        input_rate = rate["input_mtok"]
        # genai-prices charges uncached input for cache tokens when it has no cache rate, and the cache-write
        # rate for 1-hour writes when it has no 1-hour rate
        cache_write = rate.get("cache_write_mtok", input_rate)
        return ModelRates(
            input_mtok=input_rate,
            output_mtok=rate.get("output_mtok", 0.0),
            cache_read_mtok=rate.get("cache_read_mtok", input_rate),
            cache_write_mtok=cache_write,
            cache_write_1h_mtok=rate.get("cache_write_1h_mtok", cache_write),
            web_searches_kcount=rate.get("web_searches_kcount", 0.0),
        )

    def known(self, model: str) -> bool:
        return self._entry(model) is not None

    def rates(self, model: str) -> ModelRates | None:
        entry = self._entry(model)
        return entry if isinstance(entry, ModelRates) else None

    def cost(self, model: str, usage: TokenUsage, reported: Mapping[str, Any] | None = None) -> float | None:
        """USD cost of ``usage`` on ``model``, or ``None`` when genai-prices has no price for it.

        ``reported``, the upstream's usage object, picks a price variant genai-prices has: fast mode
        (``usage.speed == "fast"``, the request's ``speed`` parameter) on the models that offer it."""
        entry = self._entry(model)
        if entry is None:
            return None
        if isinstance(entry, ModelRates) and (reported is None or reported.get("speed") != "fast"):
            return entry.cost(usage)  # the usual call: flat rates, standard speed (see price_context)
        return calc_with_genai_prices(model, usage, price_context(reported))


def price_context(reported: Mapping[str, Any] | None) -> dict[str, str] | None:
    """genai-prices' price context for a reported usage object: ``{"speed": "fast"}`` for a fast-mode call
    (anthropic-sdk-python ``Usage.speed``: ``"standard"`` or ``"fast"``), else ``None`` (standard prices)."""
    if reported is not None and reported.get("speed") == "fast":
        return {"speed": "fast"}
    return None


def calc_with_genai_prices(model: str, usage: TokenUsage, price_context: Any = None) -> float | None:
    """genai-prices' own calculation (``price_context`` picks a price variant, e.g. batch); ``None`` when it
    has no price for ``model``."""
    from genai_prices import calc_price

    provider_id, name = provider_and_model(model)
    try:
        result = calc_price(
            genai_usage(usage),
            name,
            provider_id=provider_id,
            price_context=price_context,
        )
    except (LookupError, ValueError):
        return None
    return float(result.total_price)


def genai_usage(usage: TokenUsage) -> Any:
    """``usage`` as a genai-prices ``Usage``: total input, and the cache writes with their 1-hour part."""
    from genai_prices import Usage

    return Usage(
        input_tokens=usage.total_input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_1h_tokens=usage.cache_creation_1h_input_tokens,
        web_searches=usage.web_search_requests,
    )


_default: PriceBook | None = None


def default_price_book() -> PriceBook:
    """The process-wide price book, made on first use."""
    global _default  # noqa: PLW0603 - one lazily made cache per process
    if _default is None:
        _default = PriceBook()
    return _default
