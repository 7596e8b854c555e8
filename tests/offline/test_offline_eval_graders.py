"""The pure parts of `tiered eval`: dataset lines, graders, call keys and plans, batch prices."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tiered.cascade.triage import build_triage_request
from tiered.config import RouteSettings
from tiered.decision import TokenUsage
from tiered.offline.batches import PollSchedule
from tiered.offline.eval_answers import extract_choice, extract_number, normalize, parse_number
from tiered.offline.eval_dataset import EvalDatasetError, load_dataset, parse_item
from tiered.offline.eval_graders import grade_locally, judge_request, read_verdict
from tiered.offline.eval_plan import call_key, plan_item
from tiered.offline.eval_prices import BATCH_DISCOUNT, EvalPricer
from tiered.pricing import default_price_book


def item(**fields: object) -> object:
    return parse_item({"prompt": "q?", "reference": "x", **fields}, default_id="1")


@pytest.mark.parametrize(
    ("answer", "reference", "right"),
    [
        ("Paris", "Paris", True),
        ("  **paris.** ", "Paris", True),
        ('"PARIS"', "Paris", True),
        ("Paris, France", "Paris", False),
        ("ﬁne", "fine", True),  # NFKC folds the ligature
        ("42", 42, True),
        ("Lyon", ["Paris", "Lyon"], True),
        ("", "Paris", False),
    ],
)
def test_exact(answer: str, reference: object, right: bool) -> None:
    assert grade_locally(item(reference=reference), answer) is right  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42.0),
        ("The answer is 1,234.5 apples, not 7.", 1234.5),
        ("We get 3 then 5, so 8", 8.0),
        ("Answer: -3.5e2", -350.0),
        ("about 50%", 50.0),
        ("3/4", 0.75),
        ("so \\boxed{17} (from 12 + 5)", 17.0),
        ("answer is −2", -2.0),
        ("The answer is: **12**", 12.0),
        ("no digits here", None),
    ],
)
def test_extract_number(text: str, number: float | None) -> None:
    assert extract_number(text) == number


def test_parse_number_of_references() -> None:
    assert parse_number(" $1,000. ") == 1000.0
    assert parse_number("12 apples") is None
    assert parse_number(float("nan")) is None


@pytest.mark.parametrize(
    ("answer", "tolerance", "relative", "right"),
    [
        ("The answer is 3.14159", 1e-6, 0.0, False),
        ("The answer is 3.14159", 0.001, 0.0, True),
        ("31400", 0.0, 0.0, False),
        ("31400", 0.0, 0.0001, False),
        ("31420", 0.0, 0.0002, True),
    ],
)
def test_numeric_tolerance(answer: str, tolerance: float, relative: float, right: bool) -> None:
    reference = 3.1416 if "3.14" in answer else 31415.9
    graded = item(grader="numeric", reference=reference, tolerance=tolerance, relative_tolerance=relative)
    assert grade_locally(graded, answer) is right  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("B", "B"),
        ("(c)", None),  # lower case in parentheses only counts after "answer"
        ("**D**", "D"),
        ("B) Paris is the capital", "B"),
        ("I think the answer is (c) because...", "C"),
        ("Option A looks tempting, but the final answer: D", "D"),
        ("Between (A) and the rest, (A) it is", "A"),
        ("Both (A) and (B) could work", None),
        ("It has to be Paris.", "B"),  # matched against the choices' texts
        ("I am not sure", None),
    ],
)
def test_extract_choice(answer: str, letter: str | None) -> None:
    assert extract_choice(answer, ("Lyon", "Paris", "Rome")) == letter


def test_multiple_choice_grading() -> None:
    graded = item(grader="multiple_choice", reference="(B) Paris", choices=["Lyon", "Paris"])
    assert grade_locally(graded, "The answer is B.") is True  # type: ignore[arg-type]
    assert grade_locally(graded, "A") is False  # type: ignore[arg-type]
    assert grade_locally(graded, None) is False  # type: ignore[arg-type]


def test_normalize() -> None:
    assert normalize("  The   Answer.\n") == "the answer"
    assert normalize("Wait...") == "wait..."


def test_judge_request_and_verdict() -> None:
    judged = parse_item(
        {"messages": [{"role": "user", "content": "Capital?"}], "system": "Be brief.", "reference": "Paris"},
        default_id="1",
        default_grader="judge",
    )
    body = judge_request(judged, "Paris it is", "claude-sonnet-4-6")
    assert body["model"] == "claude-sonnet-4-6"
    schema = body["output_config"]["format"]["schema"]
    assert list(schema["properties"]) == ["reason", "correct"]  # the reason is written before the verdict
    text = body["messages"][0]["content"]
    assert "[system] Be brief." in text and "[user] Capital?" in text and "Paris it is" in text
    assert "<reference_answer>\nParis\n</reference_answer>" in text

    def reply(text: str, stop: str = "end_turn") -> dict[str, object]:
        return {"content": [{"type": "text", "text": text}], "stop_reason": stop}

    assert read_verdict(reply('{"reason": "same", "correct": true}')) is True
    assert read_verdict(reply('{"reason": "no", "correct": false}')) is False
    assert read_verdict(reply('{"reason": "no", "correct": "yes"}')) is None
    assert read_verdict(reply("correct")) is None
    assert read_verdict(reply('{"reason": "same", "correct": true}', "max_tokens")) is None
    with pytest.raises(ValueError, match="judge"):
        grade_locally(judged, "Paris")


def test_load_dataset(tmp_path: Path) -> None:
    path = tmp_path / "ds.jsonl"
    lines = [
        {"prompt": "6*7?", "reference": 42, "grader": "numeric", "source": "extra keys are ignored"},
        {"id": "mc", "messages": [{"role": "user", "content": "Pick"}], "reference": "C", "grader": "multiple_choice"},
        {"id": 7, "prompt": "Capital?", "reference": ["Paris", "paris, france"], "group": "geo", "max_tokens": 50},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    items = load_dataset(path, default_grader="exact")
    assert [i.id for i in items] == ["1", "mc", "7"]
    assert items[0].reference == (42.0,) and items[0].grader == "numeric"
    assert items[2].grader == "exact" and items[2].group == "geo"
    assert items[2].request(1024) == {"max_tokens": 50, "messages": [{"role": "user", "content": "Capital?"}]}
    assert items[1].request(1024)["max_tokens"] == 1024


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not valid JSON"),
        ('["a"]', "JSON object"),
        ('{"reference": "x"}', "either prompt"),
        ('{"prompt": "q", "messages": [], "reference": "x"}', "either prompt"),
        ('{"prompt": "q"}', "reference"),
        ('{"prompt": "q", "reference": "x", "grader": "fuzzy"}', "grader must be one of"),
        ('{"prompt": "q", "reference": "many", "grader": "numeric"}', "needs a number"),
        ('{"prompt": "q", "reference": "maybe", "grader": "multiple_choice"}', "no option letter"),
        ('{"prompt": "q", "reference": "x", "tolerance": -1}', "tolerance"),
        (
            '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "reference": "x"}',
            "prefill",
        ),
        ('{"messages": [{"role": "system", "content": "a"}], "reference": "x"}', "role"),
        ('{"prompt": "q", "reference": true}', "reference must be"),
        ('{"prompt": "q", "reference": "x", "max_tokens": 0}', "max_tokens"),
    ],
)
def test_dataset_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EvalDatasetError, match=re.escape(message)) as info:
        load_dataset(path)
    assert "bad.jsonl, line 1" in info.value.message


def test_duplicate_ids_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "prompt": "q", "reference": "x"}\n{"id": "a", "prompt": "r", "reference": "y"}\n')
    with pytest.raises(EvalDatasetError, match="already used on line 1"):
        load_dataset(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EvalDatasetError, match="holds no items"):
        load_dataset(empty)
    with pytest.raises(EvalDatasetError, match="cannot read"):
        load_dataset(tmp_path / "missing.jsonl")


def test_call_keys_are_stable_batch_ids() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "é"}], "max_tokens": 5}
    key = call_key("anthropic", body)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", key)
    assert key == call_key("anthropic", dict(reversed(list(body.items()))))
    assert key != call_key("other", body)
    assert key != call_key("anthropic", {**body, "max_tokens": 6})


def test_plan_calls_every_tier_with_the_cascade_bodies() -> None:
    route = RouteSettings.model_validate(
        {"tiers": ["claude-haiku-4-5", "claude-sonnet-4-6", {"model": "claude-opus-4-7"}], "threshold": 0.7}
    )
    planned = parse_item({"prompt": "Why?", "reference": "x", "max_tokens": 300}, default_id="1")
    calls = plan_item(planned, route, max_tokens=1024)
    assert [(c.kind, c.tier, c.model) for c in calls] == [
        ("triage", 0, "claude-haiku-4-5"),
        ("triage", 1, "claude-sonnet-4-6"),
        ("final", 2, "claude-opus-4-7"),
    ]
    request = {"max_tokens": 300, "messages": [{"role": "user", "content": "Why?"}]}
    assert calls[0].body == build_triage_request(request, "claude-haiku-4-5")
    assert calls[2].body == {**request, "model": "claude-opus-4-7"}
    assert len({c.key for c in calls}) == 3
    one_tier = RouteSettings.model_validate({"tiers": ["claude-opus-4-7"]})
    with pytest.raises(EvalDatasetError, match="one tier"):
        plan_item(planned, one_tier, max_tokens=10)


def test_batch_prices() -> None:
    pricer = EvalPricer(default_price_book())
    usage = TokenUsage(10_000, 2_000, 500, 100)
    for model in ("claude-haiku-4-5", "claude-opus-4-7", "claude-3-haiku-20240307"):
        standard = pricer.cost(model, usage)
        assert standard is not None and standard > 0
        assert pricer.cost(model, usage, batch=True) == pytest.approx(standard * BATCH_DISCOUNT)
    assert pricer.cost("no-such-model-xyz", usage, batch=True) is None


def test_poll_schedule_backs_off_to_a_ceiling() -> None:
    schedule = PollSchedule(initial_s=10.0, factor=2.0, max_s=30.0)
    waits = [schedule.initial_s]
    for _ in range(4):
        waits.append(schedule.next(waits[-1]))
    assert waits == [10.0, 20.0, 30.0, 30.0, 30.0]
