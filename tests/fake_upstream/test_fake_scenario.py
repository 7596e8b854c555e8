"""Scenarios, rules, inline directives and fault counting, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tiered.fake_upstream import Fault, Rule, Scenario
from tiered.fake_upstream.directives import DirectiveError, behaviour_for, find_directives
from tiered.fake_upstream.resolve import Runtime
from tiered.fake_upstream.scenario import model_matches

TOML = """
ttft_ms = 40
tokens_per_s = 120
seed = 7
models = ["my-model"]

[usage]
cache_read_input_tokens = 100

[[rules]]
contains = "capital of France"
confidence = 0.97
answer = "Paris."

[[rules]]
regex = "(?i)prove|derive"
model = "*haiku*"
confidence = 0.2
null_answer = true

[[rules]]
contains = "flaky"
fault = { kind = "overloaded", times = 2 }
"""


def test_toml_and_json_files_load(tmp_path: Path) -> None:
    toml_file = tmp_path / "s.toml"
    toml_file.write_text(TOML)
    scenario = Scenario.load(toml_file)
    assert scenario.ttft_ms == 40
    assert scenario.rules[0].answer == "Paris."
    assert scenario.rules[1].null_answer
    assert scenario.rules[2].fault == Fault(kind="overloaded", times=2)
    json_file = tmp_path / "s.json"
    json_file.write_text(scenario.model_dump_json())
    assert Scenario.load(json_file) == scenario


def test_json_null_answer_means_a_null_answer() -> None:
    scenario = Scenario.from_json('{"rules": [{"contains": "x", "answer": null}]}')
    assert scenario.rules[0].null_answer
    assert scenario.rules[0].answer is None


@pytest.mark.parametrize(
    "bad",
    [
        '{"rules": [{"regex": "("}]}',
        '{"rules": [{"confidence": 1.5}]}',
        '{"fault": {"kind": "explode"}}',
        '{"answer_tokens": [10, 2]}',
        '{"unknown_field": 1}',
    ],
)
def test_invalid_scenarios_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        Scenario.from_json(bad)


def test_fault_aliases_name_the_status() -> None:
    assert Fault(kind="429").kind == "rate_limit"  # type: ignore[arg-type]
    assert Fault.model_validate({"kind": 529}).kind == "overloaded"


def test_model_patterns() -> None:
    assert model_matches("haiku", "claude-haiku-4-5")
    assert model_matches("claude-*-4-5", "claude-haiku-4-5")
    assert not model_matches("claude-*-4-5", "claude-opus-4-7")
    assert not model_matches("opus", "claude-haiku-4-5")


def test_rules_match_on_text_regex_and_model() -> None:
    rule = Rule(regex=r"\bprove\b", model="*haiku*", confidence=0.1)
    assert rule.matches("please prove it", "claude-haiku-4-5")
    assert not rule.matches("please prove it", "claude-opus-4-7")
    assert not rule.matches("improve it", "claude-haiku-4-5")
    assert Rule(confidence=0.5).matches("anything", "any-model")


def test_first_matching_rule_wins_and_layers_merge() -> None:
    scenario = Scenario.from_toml(TOML)
    runtime = Runtime(scenario)
    paris = runtime.resolve("What is the capital of France?", "claude-haiku-4-5").behaviour
    assert (paris.confidence, paris.answer, paris.ttft_ms, paris.tokens_per_s) == (0.97, "Paris.", 40, 120)
    assert paris.usage is not None and paris.usage.cache_read_input_tokens == 100
    proof = runtime.resolve("Prove that it halts", "claude-haiku-4-5").behaviour
    assert proof.confidence == 0.2 and proof.null_answer
    assert runtime.resolve("Prove that it halts", "claude-opus-4-7").behaviour.confidence is None


def test_directives_override_rules_field_by_field() -> None:
    runtime = Runtime(Scenario.from_toml(TOML))
    behaviour = runtime.resolve(
        "capital of France? [[fake confidence=0.4 cache_creation=9]]", "claude-haiku-4-5"
    ).behaviour
    assert behaviour.confidence == 0.4
    assert behaviour.answer == "Paris."
    assert behaviour.usage is not None
    assert (behaviour.usage.cache_read_input_tokens, behaviour.usage.cache_creation_input_tokens) == (100, 9)


def test_directive_grammar() -> None:
    text = 'a [[fake confidence=0.3 tokens=200]] b [[fake answer="He said \\"hi\\"\\nthen left ☃" tps=40]]'
    directives = find_directives(text)
    assert [d.source for d in directives] == [
        "[[fake confidence=0.3 tokens=200]]",
        '[[fake answer="He said \\"hi\\"\\nthen left ☃" tps=40]]',
    ]
    scripted = behaviour_for(directives, "claude-haiku-4-5")
    assert scripted is not None
    behaviour, fault_source = scripted
    assert behaviour.confidence == 0.3 and behaviour.tokens == 200 and behaviour.tokens_per_s == 40
    assert behaviour.answer == 'He said "hi"\nthen left ☃'
    assert fault_source == ""


def test_model_scoped_directives() -> None:
    directives = find_directives("[[fake haiku:confidence=0.2 opus:tokens=50 claude-*-4-7:ttft=5]]")
    haiku = behaviour_for(directives, "claude-haiku-4-5")
    opus = behaviour_for(directives, "claude-opus-4-7")
    assert haiku is not None and opus is not None
    assert haiku[0].confidence == 0.2 and haiku[0].tokens is None
    assert opus[0].confidence is None and opus[0].tokens == 50 and opus[0].ttft_ms == 5
    assert behaviour_for(directives, "gpt-4o") is None


def test_directive_null_answer_and_fault_options() -> None:
    directives = find_directives("[[fake answer=null fault=429 times=2 retry_after=0.1 after=3 hang=0.5]]")
    scripted = behaviour_for(directives, "m")
    assert scripted is not None
    behaviour, source = scripted
    assert behaviour.null_answer and behaviour.answer is None
    assert behaviour.fault == Fault(kind="rate_limit", times=2, retry_after=0.1, after_events=3, hang_s=0.5)
    assert source == directives[0].source


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[fake colour=red]]", "unknown key 'colour'"),
        ("[[fake confidence=high]]", "expected a number"),
        ("[[fake tokens=1.5]]", "expected an integer"),
        ("[[fake confidence=2]]", "confidence"),
        ("[[fake times=2]]", "need fault=KIND"),
        ("[[fake fault=explode]]", "fault.kind"),
        ("[[fake confidence = 0.2]]", "cannot read"),
        ("[[fake tokens=null]]", "cannot be null"),
    ],
)
def test_bad_directives_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DirectiveError, match=message):
        Runtime(Scenario()).resolve(text, "m")


def test_text_without_directives_is_untouched() -> None:
    assert find_directives("a [[link]] and [fake] text") == ()


def test_fault_times_counts_calls_per_source() -> None:
    runtime = Runtime(Scenario.from_toml(TOML))
    fired = [runtime.resolve("flaky", "m").fault is not None for _ in range(4)]
    assert fired == [True, True, False, False]
    # A directive is its own source with its own count.
    fired = [runtime.resolve("x [[fake fault=500 times=1]]", "m").fault is not None for _ in range(3)]
    assert fired == [True, False, False]


def test_fault_probability_is_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        runtime = Runtime(Scenario(seed=seed, fault=Fault(kind="overloaded", probability=0.3)))
        return [runtime.resolve("hello", "m").fault is not None for _ in range(200)]

    first = pattern(1)
    assert first == pattern(1)
    assert first != pattern(2)
    assert 30 <= sum(first) <= 90


def test_scenario_default_fault_applies_to_everything_unscripted() -> None:
    runtime = Runtime(Scenario(fault=Fault(kind="api_error")))
    resolution = runtime.resolve("anything", "m")
    assert resolution.fault is not None and resolution.fault.kind == "api_error"


def test_a_dumped_scenario_resolves_like_the_original() -> None:
    scenario = Scenario.from_toml(TOML)
    reloaded = Scenario.from_json(scenario.model_dump_json())
    for text in ("capital of France", "prove it", "flaky", "other"):
        assert Runtime(reloaded).resolve(text, "claude-haiku-4-5") == Runtime(scenario).resolve(
            text, "claude-haiku-4-5"
        )


def test_fault_none_exempts_from_a_scenario_wide_fault() -> None:
    scenario = Scenario(fault=Fault(kind="overloaded"), rules=(Rule(contains="vip", fault=Fault(kind="none")),))
    runtime = Runtime(scenario)
    assert runtime.resolve("vip request", "m").fault is None
    assert runtime.resolve("x [[fake fault=none]]", "m").fault is None
    assert runtime.resolve("plain", "m").fault is not None
