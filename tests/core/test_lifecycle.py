"""The configured models against the capability table and the upstream's list, on given dates (pure)."""

from __future__ import annotations

import json
from datetime import date

from tiered.config import load_settings
from tiered.lifecycle import ConfiguredModel, check_table, check_upstream, configured_models, newer_model


def models(*tiers: str) -> list[ConfiguredModel]:
    settings = load_settings(environ={"TIERED_ROUTES__DEFAULT__TIERS": json.dumps(list(tiers))})
    return [m for m in configured_models(settings) if "default tier" in m.routes[0]]


def test_a_model_is_deprecated_then_retired() -> None:
    tiers = models("claude-opus-4-5", "claude-opus-4-7")  # retires on 2027-01-22 (the table)
    assert check_table(tiers, date(2026, 10, 1))[0].kind == "deprecated"
    (retired,) = check_table(tiers, date(2027, 1, 22))
    assert retired.kind == "retired" and retired.severity == "error" and not retired.final
    assert "2027-01-22" in retired.message and "claude-opus-4-5 (default tier 0)" in retired.message


def test_unknown_models_warn_and_final_tiers_are_marked() -> None:
    (problem,) = check_table(models("claude-haiku-4-5", "claude-made-up-9"), date(2026, 12, 1))
    assert (problem.kind, problem.severity, problem.final) == ("unknown", "warning", True)


def test_listed_under_an_alias_counts_as_listed() -> None:
    tiers = models("claude-haiku-4-5", "claude-opus-4-7")
    assert check_upstream(tiers, ["claude-haiku-4-5-20251001", "claude-opus-4-7"]) == []
    (missing,) = check_upstream(tiers, ["claude-haiku-4-5"])
    assert (missing.model, missing.kind, missing.final) == ("claude-opus-4-7", "not_listed", True)


def test_the_newer_model_is_of_the_same_family_and_alive() -> None:
    newer = newer_model("claude-sonnet-4-0", date(2026, 12, 8))
    assert newer is not None and newer.startswith("claude-sonnet-") and newer != "claude-sonnet-4-0"
    assert newer_model("claude-made-up-9", date(2026, 12, 8)) is None
