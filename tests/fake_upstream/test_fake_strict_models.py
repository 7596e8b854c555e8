"""The fake is as strict per model as the real Messages API: each test pins the real API's fact literally (model
ids, windows, ceilings, messages), so a wrong entry in the capability table fails here too."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import anthropic
import httpx2
import pytest
from tests.fake_upstream._fake_helpers import user

from tiered.fake_upstream import FakeUpstream, Scenario

HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"
PREFILL = "This model does not support assistant message prefill. The conversation must end with a user message."


def refused(http: httpx2.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    response = http.post("/v1/messages", json=body, headers=headers or {})
    error = response.json().get("error", {}) if response.status_code != 200 else {}
    return response.status_code, error.get("type", ""), error.get("message", "")


def prefilled(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "The colour"}],
    }


@pytest.fixture
def client(fake: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)


# --- models the API does not serve ---------------------------------------------------------------------------


def test_unknown_model_is_404_not_found(http: httpx2.Client) -> None:
    assert refused(http, user("hi", model="claude-nope-9")) == (404, "not_found_error", "model: claude-nope-9")
    counted = http.post(
        "/v1/messages/count_tokens", json={"model": "claude-nope-9", "messages": [{"role": "user", "content": "x"}]}
    )
    assert counted.status_code == 404 and counted.json()["error"]["message"] == "model: claude-nope-9"


def test_known_ids_and_dated_snapshots_are_served(http: httpx2.Client) -> None:
    for model in (HAIKU, "claude-haiku-4-5-20251001", SONNET, OPUS):
        assert refused(http, user("hi [[fake tokens=3]]", model=model))[0] == 200, model


def test_a_model_the_scenario_declares_is_served_without_model_rules(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(models=("my-finetune", OPUS))
    assert refused(http, prefilled("my-finetune"))[0] == 200
    assert refused(http, prefilled(OPUS))[0] == 400  # a known model keeps its rules


def test_retired_models_are_404_from_their_retirement_day(http: httpx2.Client, fake: FakeUpstream) -> None:
    # Claude Sonnet 4 and Claude Opus 4 were retired on 2026-06-15
    previous = fake.app.cache.clock
    try:
        for day, expected in (("2026-06-14", 200), ("2026-06-15", 404)):
            moment = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()

            def frozen(moment: float = moment) -> float:
                return moment

            fake.app.cache.clock = frozen
            for model in ("claude-sonnet-4-20250514", "claude-opus-4-20250514"):
                status, kind, message = refused(http, user("hi [[fake tokens=2]]", model=model, max_tokens=100))
                assert status == expected, (day, model)
                if expected == 404:
                    assert (kind, message) == ("not_found_error", f"model: {model}")
    finally:
        fake.app.cache.clock = previous


def test_sdk_raises_not_found_for_an_unknown_model(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="claude-nope-9", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["error"]["message"] == "model: claude-nope-9"  # type: ignore[index]


# --- prefill ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [OPUS, SONNET])
def test_prefill_is_refused_on_4_6_and_later(http: httpx2.Client, model: str) -> None:
    assert refused(http, prefilled(model)) == (400, "invalid_request_error", PREFILL)


def test_haiku_4_5_still_takes_prefill(http: httpx2.Client) -> None:
    assert refused(http, prefilled(HAIKU))[0] == 200


def test_sdk_sees_the_prefill_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**prefilled(OPUS))
    assert caught.value.body["error"]["message"] == PREFILL  # type: ignore[index]
    assert client.messages.create(**prefilled(HAIKU)).stop_reason == "end_turn"


# --- context window and output ceiling -------------------------------------------------------------------------


def test_prompt_over_the_window_is_refused_per_model(http: httpx2.Client) -> None:
    # one token is four characters in the fake's count: 840,000 characters are 210,000 tokens
    long = "abcd" * 210_000
    status, kind, message = refused(http, user(long, model=HAIKU, max_tokens=10))
    assert (status, kind, message) == (
        400,
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    )
    assert refused(http, user(long, model=OPUS, max_tokens=10))[0] == 200  # Opus 4.7: a 1M window


def test_input_plus_max_tokens_over_the_window_is_refused(http: httpx2.Client) -> None:
    body = user("abcd" * 190_000, model=HAIKU, max_tokens=20_000)  # 190,000 + 20,000 > 200,000
    expected = (
        "input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000, "
        "decrease input length or `max_tokens` and try again"
    )
    assert refused(http, body) == (400, "invalid_request_error", expected)
    assert refused(http, {**body, "max_tokens": 10_000})[0] == 200


# the ceilings of https://platform.claude.com/docs/en/models/<model>/overview (Sonnet 4.6: 128K, not the 64K of
# older pages)
@pytest.mark.parametrize(("model", "ceiling"), [(HAIKU, 64_000), (SONNET, 128_000), (OPUS, 128_000)])
def test_max_tokens_over_the_output_ceiling(http: httpx2.Client, model: str, ceiling: int) -> None:
    message = f"max_tokens: {ceiling + 1} > {ceiling}, which is the maximum allowed number of output tokens for {model}"
    assert refused(http, user("hi", model=model, max_tokens=ceiling + 1)) == (400, "invalid_request_error", message)
    assert refused(http, user("hi [[fake tokens=2]]", model=model, max_tokens=ceiling))[0] == 200


# --- sampling parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("temperature", 0.5), ("top_p", 0.9), ("top_k", 40)])
def test_opus_4_7_refuses_sampling_parameters(http: httpx2.Client, name: str, value: float) -> None:
    extra: dict[str, Any] = {name: value}
    assert refused(http, user("hi", model=OPUS, **extra)) == (
        400,
        "invalid_request_error",
        f"`{name}` is deprecated for this model.",
    )


def test_opus_4_7_takes_the_default_temperature(http: httpx2.Client) -> None:
    assert refused(http, user("hi [[fake tokens=2]]", model=OPUS, temperature=1.0))[0] == 200


@pytest.mark.parametrize("model", [HAIKU, SONNET])
def test_temperature_and_top_p_not_together_on_4_5_and_4_6(http: httpx2.Client, model: str) -> None:
    message = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    assert refused(http, user("hi", model=model, temperature=0.2, top_p=0.9)) == (400, "invalid_request_error", message)
    assert refused(http, user("hi [[fake tokens=2]]", model=model, temperature=0.2, top_k=5))[0] == 200


# --- thinking and effort ---------------------------------------------------------------------------------------


def test_opus_4_7_takes_adaptive_thinking_only(http: httpx2.Client) -> None:
    enabled = user("hi", model=OPUS, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2000})
    status, kind, message = refused(http, enabled)
    assert (status, kind) == (400, "invalid_request_error") and "thinking.type.enabled" in message
    assert refused(http, user("hi [[fake tokens=2]]", model=OPUS, thinking={"type": "adaptive"}))[0] == 200


def test_haiku_4_5_takes_budgeted_thinking_not_adaptive(http: httpx2.Client) -> None:
    status, _, message = refused(http, user("hi", model=HAIKU, thinking={"type": "adaptive"}))
    assert status == 400 and "thinking.type.adaptive" in message
    ok = user("hi [[fake tokens=2]]", model=HAIKU, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024})
    assert refused(http, ok)[0] == 200


def test_thinking_budget_rules(http: httpx2.Client) -> None:
    small = user("hi", model=SONNET, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1023})
    assert refused(http, small)[2] == "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    over = user("hi", model=SONNET, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2000})
    assert refused(http, over)[2] == "`max_tokens` must be greater than `thinking.budget_tokens`."
    # interleaved thinking lets the budget span the whole turn, past max_tokens
    assert refused(http, over, {"anthropic-beta": "interleaved-thinking-2025-05-14"})[0] == 200


def test_thinking_refuses_a_forced_tool_and_a_temperature(http: httpx2.Client) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    tool = {"name": "f", "input_schema": {"type": "object"}}
    forced = user("hi", model=HAIKU, max_tokens=4000, thinking=thinking, tools=[tool], tool_choice={"type": "any"})
    assert refused(http, forced)[2] == "Thinking may not be enabled when tool_choice forces tool use."
    warm = user("hi", model=HAIKU, max_tokens=4000, thinking=thinking, temperature=0.3)
    assert refused(http, warm)[2] == "`temperature` may only be set to 1 when thinking is enabled."
    assert refused(http, {**warm, "temperature": None, "top_p": 0.9})[0] == 400
    assert refused(http, {**warm, "temperature": None, "top_p": 0.96})[0] == 200


def test_thinking_refuses_a_prefill_even_where_prefill_is_taken(http: httpx2.Client) -> None:
    body = {**prefilled(HAIKU), "max_tokens": 4000}
    assert refused(http, body)[0] == 200
    status, _, message = refused(http, {**body, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert status == 400 and "thinking" in message


def test_a_forced_tool_where_the_model_refuses_one(http: httpx2.Client) -> None:
    tool = {"name": "f", "input_schema": {"type": "object"}}
    body = user("hi", model="claude-fable-5-1", tools=[tool], tool_choice={"type": "tool", "name": "f"})
    status, _, message = refused(http, body)
    assert status == 400 and "tool_choice" in message
    assert refused(http, {**body, "model": HAIKU})[0] == 200


def test_effort_only_where_supported(http: httpx2.Client) -> None:
    status, _, message = refused(http, user("hi", model=HAIKU, output_config={"effort": "low"}))
    assert status == 400 and "effort" in message
    for model in (SONNET, OPUS):
        assert refused(http, user("hi [[fake tokens=2]]", model=model, output_config={"effort": "low"}))[0] == 200


def test_sdk_sees_a_sampling_error_in_a_stream(client: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.BadRequestError, match="temperature"),
        client.messages.stream(
            model=OPUS, max_tokens=50, messages=[{"role": "user", "content": "hi"}], extra_body={"temperature": 0.0}
        ) as stream,
    ):
        list(stream.text_stream)


def test_batches_apply_the_model_rules_per_request(http: httpx2.Client) -> None:
    body = {
        "requests": [
            {"custom_id": "prefill", "params": prefilled(OPUS)},
            {"custom_id": "ok", "params": prefilled(HAIKU)},
        ]
    }
    created = http.post("/v1/messages/batches", json=body).json()
    lines = http.get(f"/v1/messages/batches/{created['id']}/results").text.strip().splitlines()

    results = {r["custom_id"]: r["result"] for r in map(json.loads, lines)}
    assert results["prefill"]["type"] == "errored"
    assert results["prefill"]["error"]["error"]["message"] == PREFILL
    assert results["ok"]["type"] == "succeeded"
