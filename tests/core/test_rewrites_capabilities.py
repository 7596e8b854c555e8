"""Rewrites read the capability table: what a model does not take is dropped or adjusted, and reported."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.cascade.rewrites import rewrite_for_model


def test_sampling_dropped_on_every_no_sampling_model_not_only_opus() -> None:
    # the old version regex knew only "opus >= 4.7": Sonnet 5 and Haiku 5.5 kept their temperature and got a 400
    for model in ("claude-sonnet-5", "claude-haiku-5-5", "claude-fable-5-1"):
        out, rewrites = rewrite_for_model({"temperature": 0.2, "top_k": 5}, model)
        assert rewrites == ("drop:temperature", "drop:top_k"), model
        assert "temperature" not in out and "top_k" not in out


def test_enabled_thinking_becomes_adaptive_only_where_enabled_is_rejected() -> None:
    body: dict[str, Any] = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096}
    out, rewrites = rewrite_for_model(body, "claude-sonnet-5")
    assert rewrites == ("thinking:adaptive",) and out["thinking"] == {"type": "adaptive"}
    out, rewrites = rewrite_for_model(body, "claude-sonnet-4-6")  # takes both modes
    assert rewrites == () and out["thinking"] == body["thinking"]
    out, rewrites = rewrite_for_model(body, "claude-haiku-4-5")
    assert rewrites == ()


def test_disabled_thinking_dropped_where_thinking_is_always_on() -> None:
    out, rewrites = rewrite_for_model({"thinking": {"type": "disabled"}}, "claude-opus-5-5")
    assert rewrites == ("drop:thinking",) and "thinking" not in out
    out, rewrites = rewrite_for_model({"thinking": {"type": "disabled"}}, "claude-opus-4-7")
    assert rewrites == () and out["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"effort": "low"}, None),
        ({"effort": "low", "format": {"type": "json_schema"}}, {"format": {"type": "json_schema"}}),
    ],
)
def test_effort_dropped_on_a_model_without_it(config: dict[str, Any], expected: dict[str, Any] | None) -> None:
    out, rewrites = rewrite_for_model({"output_config": config}, "claude-haiku-4-5")
    assert rewrites == ("drop:output_config.effort",)
    assert out.get("output_config") == expected
    assert config.get("effort") == "low"  # the caller's dict is not modified
    out, rewrites = rewrite_for_model({"output_config": config}, "claude-opus-4-7")
    assert rewrites == () and out["output_config"] == config


def test_unknown_model_and_drop_params_override() -> None:
    body = {"temperature": 0.5, "top_p": 0.9, "output_config": {"effort": "max"}}
    assert rewrite_for_model(body, "claude-nonesuch-9")[1] == ()
    out, rewrites = rewrite_for_model(body, "claude-haiku-4-5", ("top_p",))
    assert rewrites == ("drop:top_p",) and out["output_config"] == {"effort": "max"}
