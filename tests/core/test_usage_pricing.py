"""Pricing the whole Messages API usage object: the 5-minute/1-hour cache-write split, server-tool use, and
genai-prices' long-context tiers. The expected figures are worked out by hand from genai-prices' rates
(USD per million tokens; web searches per thousand) and checked to the cent, and against genai-prices' own
reading of the same usage object (its Anthropic usage extractor)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from genai_prices import extract_usage

from tiered.accounting import CHARS_PER_TOKEN, counterfactual_cost, tokens_for_chars
from tiered.decision import Attempt, AttemptRole, Outcome, TokenUsage
from tiered.pricing import PriceBook

# A usage object as the Messages API reports it (anthropic-sdk-python: types/usage.py, cache_creation.py,
# server_tool_usage.py): cache writes split by TTL, and the server tools' request counts.
REPORTED: dict[str, Any] = {
    "input_tokens": 2_000,
    "output_tokens": 3_000,
    "cache_read_input_tokens": 50_000,
    "cache_creation_input_tokens": 1_000_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 400_000, "ephemeral_1h_input_tokens": 600_000},
    "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 2},
    "service_tier": "standard",
}


def test_the_usage_object_is_read_whole() -> None:
    usage = TokenUsage.from_anthropic(REPORTED)
    assert usage == TokenUsage(2_000, 3_000, 50_000, 1_000_000, 600_000, 3, 2)
    assert usage.cache_creation_5m_input_tokens == 400_000
    assert usage.total_input_tokens == 1_052_000
    # a breakdown without its total (a partial object) still counts every write; nonsense counts nothing
    assert (
        TokenUsage.from_anthropic({"cache_creation": {"ephemeral_1h_input_tokens": 7}}).cache_creation_input_tokens == 7
    )
    assert TokenUsage.from_anthropic({"input_tokens": True, "server_tool_use": None}) == TokenUsage()
    assert TokenUsage.from_anthropic(usage.to_anthropic()) == usage


def test_one_hour_cache_writes_cost_twice_input_not_the_five_minute_rate() -> None:
    # Opus 4.7: input $5, output $25, cache read $0.5, 5-minute write $6.25, 1-hour write $10, web search $10/K
    cost = PriceBook().cost("claude-opus-4-7", TokenUsage.from_anthropic(REPORTED))
    expected = (
        2_000 * 5 + 3_000 * 25 + 50_000 * 0.5 + 400_000 * 6.25 + 600_000 * 10
    ) / 1_000_000 + 3 * 10 / 1_000  # $8.64 of tokens (0.01 + 0.075 + 0.025 + 2.5 + 6) and $0.03 of searches
    assert expected == pytest.approx(8.64)
    assert cost == pytest.approx(expected, abs=1e-9)


def test_haiku_one_hour_writes_and_searches_to_the_cent() -> None:
    # Haiku 4.5: input $1, cache write $1.25 (5 min) / $2 (1 h), web search $10/K
    usage = TokenUsage(0, 0, cache_creation_input_tokens=1_000_000, cache_creation_1h_input_tokens=1_000_000)
    assert PriceBook().cost("claude-haiku-4-5", usage) == pytest.approx(2.00, abs=1e-9)  # not $1.25
    searches = TokenUsage(web_search_requests=250)
    assert PriceBook().cost("claude-haiku-4-5", searches) == pytest.approx(2.50, abs=1e-9)


@pytest.mark.parametrize(
    "model",
    ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-5"],
)
@pytest.mark.parametrize(
    "reported",
    [
        REPORTED,
        {"input_tokens": 150_000, "output_tokens": 4_000, "cache_read_input_tokens": 40_000},
        {
            "input_tokens": 90_000,
            "output_tokens": 2_000,
            "cache_read_input_tokens": 60_000,
            "cache_creation_input_tokens": 70_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 20_000, "ephemeral_1h_input_tokens": 50_000},
            "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
        },
    ],
    ids=["1h-split", "plain", "long-context"],
)
def test_costs_match_genai_prices_reading_of_the_usage_object(model: str, reported: dict[str, Any]) -> None:
    """Both paths (flat rates kept by the price book, and genai-prices' own calculation for tiered prices)
    agree with genai-prices' Anthropic extractor applied to the raw response."""
    extracted = extract_usage({"model": model, "usage": reported}, provider_id="anthropic")
    expected = extracted.calc_price().total_price
    got = PriceBook().cost(model, TokenUsage.from_anthropic(reported))
    assert got is not None
    assert Decimal(repr(got)).quantize(Decimal("1e-9")) == Decimal(expected).quantize(Decimal("1e-9"))


def test_long_context_tier_prices_the_whole_request_above_200k_input() -> None:
    """Sonnet 4.5's long-context prices (genai-prices: base $3/$15, above 200k input tokens $6 input, $22.50
    output, $0.60 cache read, $7.50 5-minute write, $12 1-hour write) apply when the request's whole input,
    cache reads and writes included, is over 200k tokens."""
    book = PriceBook()
    over = TokenUsage(
        50_000, 10_000, 150_000, cache_creation_input_tokens=50_000, cache_creation_1h_input_tokens=20_000
    )
    expected = (50_000 * 6 + 10_000 * 22.5 + 150_000 * 0.6 + 30_000 * 7.5 + 20_000 * 12) / 1_000_000
    assert expected == pytest.approx(1.08)
    assert book.cost("claude-sonnet-4-5", over) == pytest.approx(1.08, abs=1e-9)
    at_threshold = TokenUsage(200_000, 10_000)  # not over 200k: base rates
    assert book.cost("claude-sonnet-4-5", at_threshold) == pytest.approx(0.60 + 0.15, abs=1e-9)
    # Opus 4.6 and Sonnet 4.6 had the same tiers until 2026-03-13 and are flat since (genai-prices)
    assert book.cost("claude-opus-4-6", TokenUsage(300_000, 0)) == pytest.approx(1.50, abs=1e-9)
    assert book.cost("claude-sonnet-4-6", TokenUsage(300_000, 0)) == pytest.approx(0.90, abs=1e-9)


def test_a_shipped_answers_counterfactual_keeps_the_one_hour_writes() -> None:
    book = PriceBook()
    usage = TokenUsage(10_000, 500, cache_creation_input_tokens=100_000, cache_creation_1h_input_tokens=100_000)
    shipped = Attempt(0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.SHIPPED, usage=usage)
    got = counterfactual_cost(shipped, "claude-opus-4-7", book)
    assert got is not None and got > 1.0  # 100k 1-hour writes at Opus 4.7's $10: $1.00 alone
    without_writes = counterfactual_cost(
        Attempt(0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.SHIPPED, usage=TokenUsage(10_000, 500)),
        "claude-opus-4-7",
        book,
    )
    assert without_writes is not None
    assert got - without_writes == pytest.approx(1.00, abs=1e-9)


def test_relayed_text_is_estimated_at_three_and_a_half_characters_a_token() -> None:
    assert CHARS_PER_TOKEN == 3.5
    assert tokens_for_chars(0) == 0
    assert tokens_for_chars(7) == 2
    assert tokens_for_chars(8) == 3  # rounded up: an estimate errs towards the higher cost


def test_fast_mode_is_priced_at_genai_prices_fast_variant() -> None:
    """``usage.speed == "fast"``: Opus 4.8's fast mode is $10 input / $50 output (genai-prices' ``speed: fast``
    variant), twice its standard $5 / $25; a model without a fast price keeps its standard one."""
    book = PriceBook()
    usage = TokenUsage(100_000, 10_000)
    fast = {"input_tokens": 100_000, "output_tokens": 10_000, "speed": "fast"}
    assert book.cost("claude-opus-4-8", usage) == pytest.approx(0.75, abs=1e-9)
    assert book.cost("claude-opus-4-8", usage, fast) == pytest.approx(1.50, abs=1e-9)
    assert book.cost("claude-opus-4-8", usage, {**fast, "speed": "standard"}) == pytest.approx(0.75, abs=1e-9)
    assert book.cost("claude-haiku-4-5", usage, fast) == book.cost("claude-haiku-4-5", usage)
