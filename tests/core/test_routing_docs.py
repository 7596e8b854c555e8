"""docs/routing.md's routing and model tables are what the policy and the capability table say."""

from __future__ import annotations

from pathlib import Path

from tiered.capability_docs import BLOCKS, render, update

ROUTING_MD = Path(__file__).parents[2] / "docs" / "routing.md"


def test_generated_tables_are_current() -> None:
    text = ROUTING_MD.read_text(encoding="utf-8")
    for name in BLOCKS:
        assert f"<!-- generated:{name} -->\n{render(name)}\n<!-- end:{name} -->" in text, (
            f"docs/routing.md's {name} table is stale: run `python -m tiered.capability_docs docs/routing.md`"
        )


def test_update_replaces_a_stale_block() -> None:
    stale = "intro\n<!-- generated:models -->\n| old |\n<!-- end:models -->\nrest\n"
    fresh = update(stale)
    assert fresh.startswith("intro\n") and fresh.endswith("rest\n") and "| old |" not in fresh
    assert render("models") in fresh


def test_feature_table_pins_the_headline_routes() -> None:
    table = render("features").splitlines()
    prefill = next(line for line in table if line.startswith("| assistant prefill"))
    assert "| claude-haiku-4-5 directly, `capability`: prefill" in prefill
    long_prompt = next(line for line in table if line.startswith("| long prompt"))
    assert "claude-opus-4-7 directly, `capability`: context_window" in long_prompt
    plain = next(line for line in table if line.startswith("| plain request"))
    assert "triaged by claude-haiku-4-5" in plain
