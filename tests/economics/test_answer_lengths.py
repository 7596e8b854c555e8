"""The expected-cost rule's output estimate, learned from settled decisions per route and prompt size."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tiered.accounting import WRAPPER_TOKENS
from tiered.config import RouteSettings, Settings
from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.economics.advisor import Economics
from tiered.economics.answer_lengths import PRIOR_WEIGHT, AnswerLengths
from tiered.economics.cache_state import MemoryStore
from tiered.economics.expected_cost import EXPECTED_OUTPUT_TOKENS
from tiered.pricing import PriceBook

ROUTE = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})


def test_the_estimate_starts_at_the_prior_and_follows_the_answers() -> None:
    lengths = AnswerLengths()
    assert lengths.typical("default", "<1k") == EXPECTED_OUTPUT_TOKENS
    for _ in range(8):
        lengths.observe("default", "<1k", 10)
    # (8 x 10 + 1 x 300) / (8 + 1) = 42.2
    assert lengths.typical("default", "<1k") == round((80 + PRIOR_WEIGHT * 300) / (8 + PRIOR_WEIGHT)) == 42
    assert lengths.typical("default", "1k-8k") == EXPECTED_OUTPUT_TOKENS  # per size bucket
    assert lengths.typical("other", "<1k") == EXPECTED_OUTPUT_TOKENS  # per route


def _question(n: int) -> dict[str, Any]:
    return {"max_tokens": 1024, "messages": [{"role": "user", "content": f"What is 17 * {23 + n}?"}]}


def _shipped(answer_tokens: int) -> Decision:
    """A short question whose Haiku triage shipped an answer of ``answer_tokens`` tokens (plus its wrapper)."""
    usage = TokenUsage(input_tokens=291, output_tokens=answer_tokens + WRAPPER_TOKENS)
    triage = Attempt(0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.SHIPPED, 0.95, usage=usage, cost_usd=1e-4)
    return Decision(
        id="dec_short",
        route="default",
        created_at=datetime.now(tz=UTC),
        attempts=(triage,),
        answered_by="claude-haiku-4-5",
        answer_tier=0,
        escalated=False,
        reason=None,
        confidence=0.95,
        threshold=0.8,
        cost_usd=1e-4,
        counterfactual_cost_usd=3e-4,
        latency_ms=1.0,
    )


@pytest.mark.anyio
async def test_short_answers_learned_make_a_short_question_go_straight_to_the_final_tier() -> None:
    """ "What is 17 * 23?" (about 11 prompt tokens) answered in 12 tokens: a Haiku triage costs the 280-token
    instruction plus the answer and its 12-token wrapper, (291 x $1 + 24 x $5) / 1M = $0.000411 even if it always
    ships, where Opus answers for (11 x $5 + 12 x $25) / 1M = $0.000355. With the 300-token prior the triage looked
    worth it ($0.0049 against $0.0076); once the route's answers are known to be short it is not."""
    economics = Economics(Settings(), PriceBook(), store=MemoryStore())
    first = await economics.plan(_question(0), "default", ROUTE)
    assert first.skip is None and first.choice is not None and first.choice.tier == 0
    for n in range(1, 120):
        ticket = await economics.plan(_question(n), "default", ROUTE)
        ticket.settle(_shipped(12))
    assert economics.answer_lengths.typical("default", "<1k") == 14  # (119 x 12 + 300) / 120
    later = await economics.plan(_question(99), "default", ROUTE)
    assert later.choice is not None and later.choice.tier == 1
    assert later.skip is not None and later.skip.reason is EscalationReason.NOT_WORTH_TRIAGE
    assert "answered directly by claude-opus-4-7" in later.skip.detail
