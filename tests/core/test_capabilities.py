"""The capability table: key facts pinned literally (each checked against the docs page the table cites)."""

from __future__ import annotations

from datetime import date

import pytest
from genai_prices import data

from tiered.cascade.capabilities import capabilities, is_retired, known_models


def test_opus_4_7_rejects_prefill_sampling_and_manual_thinking() -> None:
    caps = capabilities("claude-opus-4-7")
    assert caps.known
    assert caps.prefill is False
    assert caps.sampling == "none"
    assert caps.thinking == frozenset({"adaptive"})
    assert caps.effort is True
    assert caps.context_window == 1_000_000
    assert caps.max_output == 128_000


def test_haiku_4_5_takes_prefill_and_has_a_200k_window() -> None:
    caps = capabilities("claude-haiku-4-5")
    assert caps.prefill is True
    assert caps.context_window == 200_000
    assert caps.max_output == 64_000
    assert caps.thinking == frozenset({"enabled"})
    assert caps.effort is False
    assert caps.sampling == "one_of"


def test_sonnet_4_6_takes_both_thinking_modes_but_no_prefill() -> None:
    caps = capabilities("claude-sonnet-4-6")
    assert caps.prefill is False
    assert caps.thinking == frozenset({"enabled", "adaptive"})
    assert caps.sampling == "one_of"
    assert caps.context_window == 1_000_000


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-fable-5-2"])
def test_always_on_thinking_models_reject_disabled_thinking_and_forced_tools(model: str) -> None:
    caps = capabilities(model)
    assert caps.thinking_required is True
    assert caps.forced_tool_choice is False


def test_haiku_5_5_thinking_can_be_turned_off() -> None:
    caps = capabilities("claude-haiku-5-5")
    assert caps.thinking_required is False
    assert caps.effort is True
    assert caps.prefill is False


def test_lookup_by_dated_id_and_alias() -> None:
    assert capabilities("claude-haiku-4-5-20251001").model == "claude-haiku-4-5"
    assert capabilities("claude-sonnet-4-20250514").model == "claude-sonnet-4-0"
    assert capabilities("claude-opus-4").model == "claude-opus-4-0"
    # a dated snapshot of a known model takes its base's facts under its own id
    snapshot = capabilities("claude-opus-4-7-20260416")
    assert snapshot.known and snapshot.model == "claude-opus-4-7-20260416" and snapshot.prefill is False


def test_unknown_model_gets_conservative_defaults() -> None:
    caps = capabilities("claude-nonesuch-9")
    assert caps.known is False
    assert caps.model == "claude-nonesuch-9"
    assert (caps.prefill, caps.effort, caps.structured_outputs, caps.citations) == (False, False, False, False)
    assert caps.thinking == frozenset()
    assert caps.context_window == 200_000


def test_retired_models() -> None:
    today = date(2026, 12, 7)
    assert is_retired("claude-sonnet-4-20250514", today)
    assert is_retired("claude-opus-4-0", today)
    assert is_retired("claude-sonnet-4-5", today)  # retired 2026-11-30
    assert not is_retired("claude-sonnet-4-5", date(2026, 11, 29))
    assert not is_retired("claude-opus-4-5", today)  # deprecated, retiring 2027-01-22
    assert capabilities("claude-opus-4-5").deprecated == date(2026, 11, 23)
    assert not is_retired("claude-haiku-4-5", today)
    assert not is_retired("claude-nonesuch-9", today)


def test_every_price_data_model_from_the_4_5_generation_on_has_an_entry() -> None:
    old = {"claude-2", "claude-v1", "claude-opus-4-0", "claude-sonnet-4-0", "claude-opus-4-1"}
    priced = {
        m.id
        for p in data.providers
        if p.id == "anthropic"
        for m in p.models
        if m.id.startswith("claude-") and not m.id.startswith("claude-3") and m.id not in old
    }
    assert "claude-mythos-5-2" in priced and "claude-haiku-4-5" in priced
    missing = sorted(model for model in priced if not capabilities(model).known)
    assert missing == []


def test_table_is_consistent() -> None:
    seen: set[str] = set()
    for caps in known_models():
        for model_id in caps.ids():
            assert model_id not in seen, model_id
            seen.add(model_id)
        assert caps.max_output < caps.context_window
        for fact in ("context_window", "max_output", "prefill", "thinking", "sampling", "lifecycle"):
            assert caps.sources[fact].startswith("https://"), (caps.model, fact)
        if caps.thinking_required:
            assert caps.thinking
