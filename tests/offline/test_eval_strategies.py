"""``tiered eval --strategy``: consistency, verify and learned beside self_report, against the fake upstream.

The fake's per-sample scripting gives each item's k triage samples exactly; its rules script the verify
call's stated probability. Right items agree with themselves and are verified at 0.9; wrong ones disagree
and are verified at 0.2; every triage states 0.9, so the self-report cannot tell them apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiered.cli import app
from tiered.confidence.features import FEATURE_NAMES
from tiered.confidence.linear import LinearConfidence
from tiered.confidence.model_file import ModelFile, write_model_file
from tiered.fake_upstream import FakeUpstream, Rule, Scenario
from tiered.offline.eval_signals import read_probability

pytest.importorskip("scipy", reason="strategy metrics need the eval extra")

KEY = "sk-ant-test-0000"
RIGHT, WRONG = 12, 12
runner = CliRunner()


def scenario() -> Scenario:
    verify, triage = [], []
    for i in range(RIGHT + WRONG):
        right = i < RIGHT
        question = f"Question q{i}?"
        verify.append(
            Rule(regex=re.escape(question) + r"[\s\S]*proposed_answer", model="haiku", answer="0.9" if right else "0.2")
        )
        answers = ["42"] * 5 if right else ["maybe 41", "40", "39", "41", "38"]
        samples = [{"answer": a} for a in answers]
        triage.append(
            Rule.model_validate({"contains": question, "model": "haiku", "confidence": 0.9, "samples": samples})
        )
    return Scenario(
        rules=(
            *verify,
            *triage,
            Rule.model_validate({"model": "opus", "answer": "The answer is 42.", "usage": {"output_tokens": 2000}}),
        )
    )


def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "qa.jsonl"
    lines = [{"id": f"q{i}", "prompt": f"Question q{i}?", "reference": 42, "grader": "numeric"} for i in range(24)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def final_answer_model(path: Path) -> None:
    """A learned model that distrusts hedged answers (the wrong drafts here), for the learned column."""
    n = len(FEATURE_NAMES)
    coef = [0.0] * n
    coef[FEATURE_NAMES.index("hedges")] = -8.0
    write_model_file(path, ModelFile(1, LinearConfidence(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, tuple(coef), 2.0)))


def test_strategies_side_by_side(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.scenario = scenario()
    env = {
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": KEY,
        "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0",
    }
    model = tmp_path / "learned.json"
    final_answer_model(model)
    args = ["eval", str(dataset(tmp_path)), "--json", "--target", "0.3", "--samples", "5"]
    args += [
        "--strategy",
        "consistency",
        "--strategy",
        "verify",
        "--strategy",
        "learned",
        "--confidence-model",
        str(model),
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    rows = {row["strategy"]: row for row in json.loads(result.stdout)["signals"]}
    assert list(rows) == ["self_report", "consistency", "verify", "learned"]
    items = RIGHT + WRONG
    assert all(row["items"] == items for row in rows.values())
    # every triage states 0.9: no ranking, and shipping all of them breaks a 30% bound (half are wrong)
    assert rows["self_report"]["auroc"] == 0.5 and rows["self_report"]["threshold"] is None
    assert rows["self_report"]["shipped"] == 0.0 and rows["self_report"]["extra_calls"] == 0
    consistency = rows["consistency"]
    assert consistency["auroc"] == 1.0 and consistency["threshold"] == 1.0 and consistency["shipped"] == 0.5
    assert consistency["accuracy"] == 1.0 and consistency["extra_calls"] == 4 * items
    verify = rows["verify"]
    assert verify["auroc"] == 1.0 and verify["threshold"] == 0.9 and verify["shipped"] == 0.5
    assert verify["extra_calls"] == items and verify["unreadable"] == 0
    assert rows["learned"]["auroc"] == 1.0 and rows["learned"]["shipped"] == 0.5
    assert rows["learned"]["extra_calls"] == 0 and rows["learned"]["cost_per_item_usd"] < verify["cost_per_item_usd"]
    # consistency pays four more triage calls per item, verify one short call: it costs less per item
    assert verify["cost_per_item_usd"] < consistency["cost_per_item_usd"]
    assert rows["self_report"]["savings"] < 0 < verify["savings"]
    calls = upstream.requests
    assert sum(c.is_triage for c in calls) == items * 5  # the draft and four samples per item
    upstream.reset()
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0 and upstream.requests == []  # every extra call is cached


def test_probability_reading() -> None:
    assert read_probability("0.85") == 0.85
    assert read_probability("Probability: 70%") == 0.7
    assert read_probability("I'd say 3") is None
    assert read_probability("no idea") is None
