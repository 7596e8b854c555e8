"""The pure parts: fingerprints, expected cost, ship rates, the cache-correct counterfactual."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.accounting import cache_penalty, counterfactual_cost
from tiered.decision import Attempt, AttemptRole, Outcome, TokenUsage
from tiered.economics.counterfactual import with_final_cache
from tiered.economics.expected_cost import Prompt, TierView, call_cost, choose
from tiered.economics.fingerprint import LOOKBACK, fingerprint
from tiered.economics.ship_rates import ShipRates, Similar, depth_bucket, size_bucket
from tiered.pricing import ModelRates, PriceBook

HAIKU = ModelRates(1.0, 5.0, 0.1, 1.25, 2.0)
OPUS = ModelRates(5.0, 25.0, 0.5, 6.25, 10.0)


def _conversation(turns: int, *, cached: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for n in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"question {n} " * 50}]})
        if n < turns - 1:
            messages.append({"role": "assistant", "content": f"answer {n}"})
    if cached:
        messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return {"system": [{"type": "text", "text": "a long document " * 400}], "messages": messages, "max_tokens": 100}


def test_a_conversation_keeps_its_identity_across_turns_and_its_earlier_prefix_is_in_the_lookback() -> None:
    one, two = fingerprint(_conversation(1)), fingerprint(_conversation(2))
    assert one.conversation == two.conversation
    assert (one.depth, two.depth) == (1, 2)
    assert len(two.breakpoints) == 1 and two.breakpoints[0].ttl_s == 300.0
    # turn 1's breakpoint (the first user block) is a prefix turn 2 reads back
    assert one.breakpoints[0].digest in {digest for digest, _ in two.candidates()}
    assert two.cacheable_tokens == two.tokens  # the breakpoint is the last block


def test_the_fingerprint_holds_digests_only_and_changes_with_any_prefix_byte() -> None:
    request = _conversation(1)
    print_ = fingerprint(request)
    assert "document" not in repr(print_) and "question" not in repr(print_)
    changed = _conversation(1)
    changed["system"][0]["text"] += "."
    assert fingerprint(changed).breakpoints[0].digest != print_.breakpoints[0].digest
    no_cache = fingerprint(_conversation(1, cached=False))
    assert no_cache.breakpoints == () and no_cache.cacheable_tokens == 0


def test_session_header_and_user_id_name_the_conversation() -> None:
    request = _conversation(1)
    assert fingerprint(request, {"x-tiered-session": "s1"}).conversation != fingerprint(request).conversation
    other_user = {**request, "metadata": {"user_id": "u2"}}
    assert fingerprint(other_user).conversation != fingerprint(request).conversation


def test_automatic_caching_puts_the_breakpoint_on_the_last_block_and_the_lookback_is_bounded() -> None:
    request = _conversation(1, cached=False)
    request["messages"] = [{"role": "user", "content": f"m{n}"} for n in range(30)]
    request["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    print_ = fingerprint(request)
    assert len(print_.breakpoints) == 1 and print_.breakpoints[0].ttl_s == 3600.0
    assert len(print_.breakpoints[0].lookback) == LOOKBACK - 1


def test_tool_choice_changes_the_message_prefix_not_the_system_prefix() -> None:
    request = _conversation(1)
    request["system"][0]["cache_control"] = {"type": "ephemeral"}
    forced = {**request, "tool_choice": {"type": "any"}}
    a, b = fingerprint(request).breakpoints, fingerprint(forced).breakpoints
    assert a[0].digest == b[0].digest and a[1].digest != b[1].digest


def test_the_worked_example_of_the_issue_skips_a_cold_haiku_triage_for_a_warm_opus_prefix() -> None:
    # 150k tokens cached on Opus only: continuing there reads them (150,000 x $0.50/MTok = $0.075, plus 300
    # output tokens x $25/MTok = $0.0075); a Haiku triage writes them cold (150,000 x $1.25/MTok = $0.1875)
    prompt = Prompt(tokens=150_000, cacheable=150_000, output=300, triage_input=280, triage_wrapper=12)
    assert call_cost(OPUS, prompt, 150_000, output=300) == pytest.approx(0.075 + 0.0075)
    choice = choose([TierView("haiku", HAIKU, 0, 0.9, 100), TierView("opus", OPUS, 150_000)], prompt)
    assert not choice.triage and choice.tier == 1
    assert choice.costs[1] == pytest.approx(0.0825)
    assert choice.saving > 0.1 and "answered directly by opus" in choice.detail


def test_a_short_fresh_prompt_is_still_triaged() -> None:
    prompt = Prompt(tokens=20, cacheable=0, output=300, triage_input=280, triage_wrapper=12)
    choice = choose([TierView("haiku", HAIKU, 0, 0.5), TierView("opus", OPUS, 0)], prompt)
    assert choice.triage and choice.tier == 0 and choice.saving == 0.0


def test_a_tier_that_never_ships_is_not_worth_triaging() -> None:
    prompt = Prompt(tokens=2_000, cacheable=0, output=300, triage_input=280, triage_wrapper=12)
    assert not choose([TierView("haiku", HAIKU, 0, 0.0), TierView("opus", OPUS, 0)], prompt).triage


def test_ship_rates_lean_on_the_tier_then_the_prior() -> None:
    rates = ShipRates()
    similar = Similar(size_bucket(500), depth_bucket(1), False)
    assert rates.rate("r", 0, similar) == (0.5, 0)
    for _ in range(12):
        rates.observe("r", 0, similar, shipped=False)
    rate, samples = rates.rate("r", 0, similar)
    assert samples == 12 and rate == pytest.approx((0 + 4 * (2 / 16)) / 16)
    other = Similar(size_bucket(200_000), depth_bucket(12), True)
    other_rate, other_samples = rates.rate("r", 0, other)
    assert other_rate == pytest.approx(2 / 16) and other_samples == 0
    assert [size_bucket(t) for t in (10, 5_000, 20_000, 100_000, 200_000)] == [
        "<1k",
        "1k-8k",
        "8k-32k",
        "32k-128k",
        ">=128k",
    ]
    assert [depth_bucket(d) for d in (1, 2, 5, 10)] == ["1", "2-3", "4-9", ">=10"]


def test_the_counterfactual_books_a_read_where_the_cascade_caused_a_write() -> None:
    """A 150k-token prefix the cascade let go cold on Opus: the escalation writes it (150,000 x $6.25/MTok =
    $0.9375), the all-Opus path would have read it (150,000 x $0.50/MTok = $0.075); 1,000 fresh input tokens
    ($0.005) and 200 output tokens ($0.005) are the same on both paths. Counterfactual $0.085, penalty $0.8625."""
    usage = TokenUsage(input_tokens=1_000, output_tokens=200, cache_creation_input_tokens=150_000)
    prices = PriceBook()
    final = Attempt(
        tier=1,
        model="claude-opus-4-7",
        role=AttemptRole.FINAL,
        outcome=Outcome.ANSWERED,
        usage=usage,
        cost_usd=prices.cost("claude-opus-4-7", usage),
    )
    assert final.cost_usd == pytest.approx(0.9375 + 0.005 + 0.005)
    assert counterfactual_cost(final, "claude-opus-4-7", prices) == final.cost_usd  # no warm state known
    fair = counterfactual_cost(final, "claude-opus-4-7", prices, final_warm=150_000)
    assert fair == pytest.approx(0.085)
    assert cache_penalty(final, "claude-opus-4-7", prices, final_warm=150_000) == pytest.approx(0.8625)


def test_with_final_cache_never_books_fewer_reads_and_moves_one_hour_writes_first() -> None:
    usage = TokenUsage(
        cache_read_input_tokens=5_000, cache_creation_input_tokens=10_000, cache_creation_1h_input_tokens=4_000
    )
    assert with_final_cache(usage, 1_000) == usage
    moved = with_final_cache(usage, 11_000)
    assert (moved.cache_read_input_tokens, moved.cache_creation_input_tokens) == (11_000, 4_000)
    assert moved.cache_creation_1h_input_tokens == 0
    assert with_final_cache(usage, 99_000).cache_creation_input_tokens == 0


def test_a_cheap_tier_write_is_amortized_over_the_conversation_horizon() -> None:
    """Haiku cold, Opus warm on a 60k prefix, ship rate 0.8: on this turn alone the Haiku write ($0.075) is
    dearer than Opus reading ($0.03), but spread over 8 turns it is $0.006 + $0.069 / 8 and the triage pays."""
    views = [TierView("haiku", HAIKU, 0, 0.8), TierView("opus", OPUS, 60_000)]
    alone = Prompt(tokens=60_000, cacheable=60_000, output=300, triage_input=280, triage_wrapper=12)
    assert not choose(views, alone).triage
    long_running = Prompt(tokens=60_000, cacheable=60_000, output=300, triage_input=280, triage_wrapper=12, horizon=8)
    assert choose(views, long_running).triage
    assert call_cost(HAIKU, long_running, 0, output=0, horizon=8) == pytest.approx((60_000 * (0.1 + 1.15 / 8)) / 1e6)


def test_a_pass_through_fingerprint_skips_the_estimate_only_without_breakpoints() -> None:
    plain = _conversation(2, cached=False)
    assert fingerprint(plain, estimate=False).tokens == 0
    assert fingerprint(plain, estimate=False).conversation == fingerprint(plain).conversation
    assert fingerprint(plain).tokens > 0
    cached = _conversation(2)
    assert fingerprint(cached, estimate=False) == fingerprint(cached)
