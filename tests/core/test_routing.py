"""Routing by capability: a request is triaged only when the first tier takes it as it is."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.capability_docs import example
from tiered.cascade.fit import CHARS_PER_TOKEN, estimate_input_tokens, misfit, untriageable
from tiered.cascade.policy import Call, Reply, Step, TriageRead, cascade
from tiered.config import RouteSettings
from tiered.decision import AttemptRole, EscalationReason

TWO = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})
THREE = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]})
USER = {"role": "user", "content": "2+2?"}
PREFILL = [USER, {"role": "assistant", "content": "{"}]


def request(**extra: Any) -> dict[str, Any]:
    return {"model": "tiered", "max_tokens": 256, "messages": [USER], **extra}


def first_call(req: dict[str, Any], route: RouteSettings = TWO) -> tuple[Call, Step | None]:
    plan = cascade(req, route)
    call = next(plan)
    if call.role is AttemptRole.TRIAGE:
        return call, None
    try:
        plan.send(Reply())
    except StopIteration as stop:
        return call, stop.value
    raise AssertionError("a direct call must end the cascade")


def test_prefill_goes_to_haiku_on_the_default_route() -> None:
    call, step = first_call(request(messages=PREFILL))
    assert call.role is AttemptRole.FINAL and call.model == "claude-haiku-4-5"
    assert step is not None and step.tier == 0 and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and "prefill" in step.detail and "claude-opus-4-7" in step.detail
    assert call.body["messages"] == PREFILL


def test_prefill_with_capability_final_goes_to_the_highest_tier_that_takes_it() -> None:
    route = THREE.model_copy(update={"capability_requests": "final"})
    call, step = first_call(request(messages=PREFILL), route)
    # neither Sonnet 4.6 nor Opus 4.7 takes a prefill: Haiku 4.5 is the only (and highest) tier that does
    assert call.model == "claude-haiku-4-5" and step is not None and step.reason is EscalationReason.CAPABILITY


def test_prefill_that_no_tier_takes_goes_unchanged_to_the_final_tier() -> None:
    route = RouteSettings.model_validate({"tiers": ["claude-sonnet-4-6", "claude-opus-4-7"]})
    call, step = first_call(request(messages=PREFILL), route)
    assert call.model == "claude-opus-4-7" and call.body["messages"] == PREFILL
    assert step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and "no tier" in step.detail


def test_a_prompt_over_haikus_window_is_not_triaged() -> None:
    big = "word " * (210_000 * CHARS_PER_TOKEN // 5)  # about 210k tokens by the local estimate
    call, step = first_call(request(messages=[{"role": "user", "content": big}]))
    assert call.role is AttemptRole.FINAL and call.model == "claude-opus-4-7"
    assert step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and "window" in step.detail


def test_a_prompt_well_inside_haikus_window_is_triaged() -> None:
    text = "word " * 100_000  # 500k characters: about 167k tokens by the estimate
    call, _ = first_call(request(messages=[{"role": "user", "content": text}]))
    assert call.role is AttemptRole.TRIAGE and call.model == "claude-haiku-4-5"


def test_max_tokens_over_haikus_output_ceiling_is_not_triaged() -> None:
    call, step = first_call(request(max_tokens=100_000))
    assert call.model == "claude-opus-4-7" and step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and "max_tokens" in step.detail


def test_effort_is_not_triaged_on_a_tier_without_it() -> None:
    call, step = first_call(request(output_config={"effort": "low"}))
    assert call.model == "claude-opus-4-7" and call.body["output_config"] == {"effort": "low"}
    assert step is not None and step.detail is not None and "effort" in step.detail
    # on a route whose first tier takes effort, it is triaged
    sonnet_first = RouteSettings.model_validate({"tiers": ["claude-sonnet-4-6", "claude-opus-4-7"]})
    call, _ = first_call(request(output_config={"effort": "low"}), sonnet_first)
    assert call.role is AttemptRole.TRIAGE


@pytest.mark.parametrize(
    ("example_name", "feature"),
    [
        ("remote MCP servers", "mcp_servers"),
        ("server tools", "server_tool"),
        ("context management", "context_management"),
        ("citations", "citations"),
    ],
)
def test_features_no_triage_may_carry_are_answered_directly(example_name: str, feature: str) -> None:
    req = example(example_name)
    call, step = first_call(req)
    # answered as a protocol request is: by the final tier unless the route says "first", never unchecked by
    # the cheap tier behind the caller's back
    assert call.role is AttemptRole.FINAL and call.model == "claude-opus-4-7"
    assert step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and step.detail.startswith(f"{feature}: ")
    assert step.detail.endswith("answered by claude-opus-4-7")
    first_route = TWO.model_copy(update={"protocol_requests": "first"})
    call, step = first_call(req, first_route)
    assert call.model == "claude-haiku-4-5" and step is not None and step.reason is EscalationReason.CAPABILITY


def test_a_three_tier_route_triages_from_the_first_tier_that_takes_the_request() -> None:
    big = "word " * (210_000 * CHARS_PER_TOKEN // 5)  # over Haiku 4.5's window, inside Sonnet 4.6's
    plan = cascade(request(messages=[{"role": "user", "content": big}]), THREE)
    call = next(plan)
    assert call.role is AttemptRole.TRIAGE and call.model == "claude-sonnet-4-6" and call.tier == 1
    final = plan.send(Reply(triage=TriageRead(confidence=0.2, answer_kind="null")))
    assert final.role is AttemptRole.FINAL and final.model == "claude-opus-4-7"
    assert final.reason is EscalationReason.CAPABILITY
    with pytest.raises(StopIteration) as stop:
        plan.send(Reply())
    step = stop.value.value
    assert step.kind == "final" and step.reason is EscalationReason.CAPABILITY
    assert [v.reason for v in step.verdicts] == [EscalationReason.LOW_CONFIDENCE]
    assert step.detail is not None and step.detail.startswith("context_window: ")
    assert step.detail.endswith("triaged by claude-sonnet-4-6")


def test_a_triage_from_a_later_tier_can_ship() -> None:
    plan = cascade(request(output_config={"effort": "low"}), THREE)
    call = next(plan)
    assert call.model == "claude-sonnet-4-6" and call.role is AttemptRole.TRIAGE
    with pytest.raises(StopIteration) as stop:
        plan.send(Reply(triage=TriageRead(confidence=0.95, answer_kind="string", answer="4")))
    step = stop.value.value
    assert step.kind == "ship" and step.tier == 1 and step.reason is EscalationReason.CAPABILITY


def test_code_execution_is_a_server_tool() -> None:
    why = untriageable(request(tools=[{"type": "code_execution_20250825", "name": "code_execution"}]))
    assert why is not None and why.feature == "server_tool"


def test_client_tools_with_a_type_are_still_triaged() -> None:
    req = request(tools=[{"type": "bash_20250124", "name": "bash"}, {"name": "lookup", "input_schema": {}}])
    call, _ = first_call(req)
    assert call.role is AttemptRole.TRIAGE and call.body["tool_choice"] == {"type": "none"}


def test_protocol_requests_keep_their_policy_when_the_target_takes_them() -> None:
    thinking = request(thinking={"type": "enabled", "budget_tokens": 2000}, max_tokens=4000)
    call, step = first_call(thinking)
    # Opus 4.7 takes adaptive thinking only: the documented rewrite makes it take the request
    assert call.model == "claude-opus-4-7" and call.rewrites == ("thinking:adaptive",)
    assert step is not None and step.reason is EscalationReason.POLICY and step.detail is None
    forced = request(tools=[{"name": "t", "input_schema": {}}], tool_choice={"type": "any"})
    call, step = first_call(forced, TWO.model_copy(update={"protocol_requests": "first"}))
    assert call.model == "claude-haiku-4-5" and step is not None and step.reason is None


def test_forced_tool_choice_avoids_a_model_that_rejects_it() -> None:
    route = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-5-5"]})
    forced = request(tools=[{"name": "t", "input_schema": {}}], tool_choice={"type": "tool", "name": "t"})
    call, step = first_call(forced, route)
    assert call.model == "claude-haiku-4-5" and step is not None and step.reason is EscalationReason.CAPABILITY


def test_unknown_models_are_assumed_to_take_everything() -> None:
    route = RouteSettings.model_validate({"tiers": ["openai:gpt-4o-mini", "claude-opus-4-7"]})
    call, _ = first_call(request(output_config={"effort": "low"}), route)
    assert call.role is AttemptRole.TRIAGE


def test_misfit_and_estimate_units() -> None:
    assert misfit(request(), "claude-haiku-4-5", "structured") is None
    assert misfit(request(), "claude-opus-5-5", "tool") is not None  # a tool-mode triage needs a forced tool
    assert misfit(request(thinking={"type": "adaptive"}), "claude-haiku-4-5") is not None
    assert misfit(request(output_format={"type": "json_schema", "schema": {}}), "claude-sonnet-4-0") is not None
    assert untriageable(request()) is None
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 3_000_000}}
    tokens = estimate_input_tokens({"messages": [{"role": "user", "content": [image]}]})
    assert 1_600 <= tokens < 1_700  # an image counts once, not by its base64 length


def test_prefill_with_thinking_goes_unchanged_to_the_final_tier() -> None:
    req = request(messages=PREFILL, thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048)
    call, step = first_call(req)
    # no model takes a prefill with thinking on: the final tier gets it unchanged and its 400 reaches the caller
    assert call.model == "claude-opus-4-7" and call.body["messages"] == PREFILL
    assert step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail is not None and "no tier" in step.detail


def test_a_first_tier_that_cannot_run_its_triage_never_answers_unchecked() -> None:
    """Claude Sonnet 4 has no structured outputs: a route triaging with it used to send every plain request
    straight to it (the cheapest tier that takes the request), shipping answers no confidence was read for."""
    route = RouteSettings.model_validate({"tiers": ["claude-sonnet-4-0", "claude-opus-4-7"]})
    call, step = first_call(request(), route)
    assert call.model == "claude-opus-4-7" and step is not None and step.reason is EscalationReason.CAPABILITY
    assert step.detail == (
        "structured_outputs: claude-sonnet-4-0 cannot run a structured-output triage; answered by claude-opus-4-7"
    )
    tool_route = RouteSettings.model_validate(
        {"tiers": [{"model": "claude-sonnet-4-0", "triage": "tool"}, "claude-opus-4-7"]}
    )
    assert next(cascade(request(), tool_route)).role is AttemptRole.TRIAGE  # a forced-tool triage it can run
