"""Per-sample scripting: k calls of one request get k scripted answers, deterministically by seed."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from tests.fake_upstream._fake_helpers import triage

from tiered.fake_upstream import Scenario
from tiered.fake_upstream.directives import DirectiveError
from tiered.fake_upstream.generate import build_reply
from tiered.fake_upstream.prompt import anthropic_prompt
from tiered.fake_upstream.resolve import Runtime


def triage_reads(
    runtime: Runtime, text: str, k: int, model: str = "claude-haiku-4-5"
) -> list[tuple[float, str | None]]:
    prompt = anthropic_prompt(triage(text, model=model))
    out = []
    for _ in range(k):
        reply = build_reply(prompt, runtime.resolve(prompt.last_user_text, prompt.model), runtime.scenario)
        doc = json.loads("".join(reply.tokens))
        out.append((doc["confidence"], doc["answer"]))
    return out


def test_directive_samples_cycle_per_request_and_the_seed_shifts_the_start() -> None:
    text = "How many? [[fake confidence=0.9 samples=42|41|42|null]]"
    runtime = Runtime(Scenario())
    first = triage_reads(runtime, text, 4)
    assert [answer for _, answer in first] == ["42", "41", "42", None]
    assert {confidence for confidence, _ in first} == {0.9}
    # another request has its own count; the same request continues where it was
    assert triage_reads(runtime, "Other? [[fake samples=a|b]]", 1)[0][1] == "a"
    assert triage_reads(runtime, text, 1)[0][1] == "42"
    shifted = [answer for _, answer in triage_reads(Runtime(Scenario(seed=1)), text, 4)]
    assert shifted == ["41", "42", None, "42"]
    assert Counter(shifted) == Counter(answer for _, answer in first)


def test_rule_samples_state_their_own_confidence_and_scope_by_model() -> None:
    scenario = Scenario.model_validate(
        {
            "rules": [
                {
                    "contains": "capital",
                    "model": "haiku",
                    "samples": [{"answer": "Paris", "confidence": 0.95}, {"answer": "Lyon", "confidence": 0.6}],
                }
            ]
        }
    )
    runtime = Runtime(scenario)
    assert triage_reads(runtime, "What is the capital of France?", 3) == [
        (0.95, "Paris"),
        (0.6, "Lyon"),
        (0.95, "Paris"),
    ]
    other = triage_reads(runtime, "What is the capital of France?", 2, model="claude-sonnet-4-5")
    assert other[0] == other[1]  # no samples for this model: the deterministic default reply


def test_bad_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 item"):
        Scenario.model_validate({"rules": [{"samples": []}]})
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Scenario.model_validate({"rules": [{"samples": [{"confidence": 2}]}]})
    with pytest.raises(DirectiveError):
        Runtime(Scenario()).resolve("[[fake samples=null]] [[fake samples=null]] [[fake confidence=x]]", "m")
