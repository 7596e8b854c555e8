from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from tiered.accounting import INSTRUCTION_TOKENS, WRAPPER_TOKENS, counterfactual_cost, total_cost
from tiered.cascade.rewrites import rewrite_for_model
from tiered.decision import Attempt, AttemptRole, Outcome, TokenUsage
from tiered.pricing import PriceBook


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"])
@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(1234, 567),
        TokenUsage(10, 2000, cache_read_input_tokens=50_000, cache_creation_input_tokens=3_000),
        TokenUsage(0, 1, cache_read_input_tokens=199_000),
    ],
)
def test_costs_match_genai_prices(model: str, usage: TokenUsage) -> None:
    expected = calc_price(
        Usage(
            input_tokens=usage.total_input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens,
        ),
        model,
        provider_id="anthropic",
    ).total_price
    got = PriceBook().cost(model, usage)
    assert got is not None
    assert Decimal(repr(got)).quantize(Decimal("1e-12")) == Decimal(expected).quantize(Decimal("1e-12"))


def test_unknown_model_costs_none_never_zero() -> None:
    book = PriceBook()
    assert book.cost("claude-nonexistent-9", TokenUsage(100, 100)) is None
    assert not book.known("ollama:llama3")
    attempts = [
        Attempt(0, "x", AttemptRole.TRIAGE, Outcome.ESCALATED, usage=TokenUsage(10, 10), cost_usd=None),
        Attempt(1, "y", AttemptRole.FINAL, Outcome.ANSWERED, usage=TokenUsage(10, 10), cost_usd=0.5),
    ]
    assert total_cost(attempts) is None


def test_openai_tier_is_priced_by_its_provider() -> None:
    assert PriceBook().cost("openai:gpt-4o-mini", TokenUsage(1_000_000, 0)) == pytest.approx(0.15)


def test_counterfactual_for_a_shipped_answer_strips_the_triage_overhead() -> None:
    book = PriceBook()
    usage = TokenUsage(INSTRUCTION_TOKENS + 1000, WRAPPER_TOKENS + 200)
    shipped = Attempt(0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.SHIPPED, usage=usage)
    expected = book.cost("claude-opus-4-7", TokenUsage(1000, 200))
    assert counterfactual_cost(shipped, "claude-opus-4-7", book) == pytest.approx(expected)
    final = Attempt(1, "claude-opus-4-7", AttemptRole.FINAL, Outcome.ANSWERED, usage=usage, cost_usd=0.123)
    assert counterfactual_cost(final, "claude-opus-4-7", book) == 0.123
    assert counterfactual_cost(None, "claude-opus-4-7", book) is None


def test_rewrites() -> None:
    body = {
        "model": "x",
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 5},
    }
    out, rewrites = rewrite_for_model(body, "claude-opus-4-7")
    assert rewrites == ("drop:temperature", "drop:top_p", "drop:top_k", "thinking:adaptive")
    assert out == {"model": "claude-opus-4-7", "thinking": {"type": "adaptive"}}
    assert body["temperature"] == 0.5  # input untouched
    out, rewrites = rewrite_for_model({"temperature": 0.5, "top_p": 0.9}, "claude-haiku-4-5")
    assert rewrites == ("drop:top_p",) and out["temperature"] == 0.5
    out, rewrites = rewrite_for_model({"temperature": 0.5, "top_k": 3}, "claude-haiku-4-5")
    assert rewrites == ()
    out, rewrites = rewrite_for_model({"temperature": 0.5}, "gpt-4o-mini")
    assert rewrites == ()
    out, rewrites = rewrite_for_model({"temperature": 0.5, "seed": 1}, "claude-opus-4-7", ("seed",))
    assert rewrites == ("drop:seed",) and out["temperature"] == 0.5
