"""``tiered confidence train|versions`` on a temp store filled with graded decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.confidence._graded import fill
from typer.testing import CliRunner

from tiered.cli import app
from tiered.confidence.model_file import load_learned, read_model_file
from tiered.store import default_database_url, make_engine, upgrade
from tiered.store.confidence_versions import graded_examples, list_versions

pytest.importorskip("sklearn", reason="the learned confidence needs the eval extra (scikit-learn)")

runner = CliRunner()


@pytest.fixture
def db() -> Iterator[Engine]:
    engine = make_engine(default_database_url())
    upgrade(engine)
    yield engine
    engine.dispose()


def test_graded_examples_are_shipped_answers_with_text_and_a_verdict(db: Engine) -> None:
    fill(db, 20, hedges_mean_wrong=True)
    rows = graded_examples(db, "default", 0)
    assert len(rows) == 20 and sum(r.correct for r in rows) == 10
    assert all(r.request_text and r.answer_text for r in rows)
    assert graded_examples(db, "other", 0) == [] and graded_examples(db, "default", 1) == []


def test_a_better_signal_is_promoted_written_and_listed(db: Engine, tmp_path: Path) -> None:
    fill(db, 400, hedges_mean_wrong=True)
    out = tmp_path / "learned.json"
    result = runner.invoke(app, ["confidence", "train", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["promoted"] is True and doc["version"] == 1 and doc["model_file"] == str(out)
    assert (doc["train_size"], doc["test_size"]) == (280, 120)
    # the stated confidence says nothing here: it ranks at chance and certifies nothing at a 5% target
    assert 0.3 < doc["incumbent"]["auroc"] < 0.7 and doc["incumbent"]["shipped"] == 0.0
    assert doc["candidate"]["auroc"] > 0.95 and doc["candidate"]["shipped"] == pytest.approx(0.5)
    assert load_learned(out, 1).version == 1 and read_model_file(out).metrics["test_size"] == 120
    (version,) = list_versions(db)
    assert version.promoted and version.metrics["candidate"]["shipped"] == doc["candidate"]["shipped"]
    listed = runner.invoke(app, ["confidence", "versions"])
    assert listed.exit_code == 0 and "v1" in listed.output and "PROMOTED" in listed.output


def test_a_signal_no_better_than_the_one_in_force_is_recorded_but_not_promoted(db: Engine, tmp_path: Path) -> None:
    fill(db, 400, hedges_mean_wrong=False)
    out = tmp_path / "learned.json"
    result = runner.invoke(app, ["confidence", "train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "not promoted" in result.output and not out.exists()
    (version,) = list_versions(db)
    assert not version.promoted and version.metrics["incumbent"]["shipped"] == pytest.approx(0.5)


def test_the_signal_in_force_is_the_route_s_learned_model(db: Engine, tmp_path: Path) -> None:
    fill(db, 400, hedges_mean_wrong=True)
    out = tmp_path / "learned.json"
    assert runner.invoke(app, ["confidence", "train", "--out", str(out)]).exit_code == 0
    config = tmp_path / "tiered.toml"
    config.write_text(
        f'[routes.default]\ntiers = ["claude-haiku-4-5", "claude-opus-4-7"]\nconfidence = "learned"\n'
        f'confidence_model = "{out}"\n'
    )
    again = runner.invoke(app, ["confidence", "train", "--config", str(config), "--seed", "1", "--json"])
    assert again.exit_code == 0, again.output
    doc = json.loads(again.output)
    assert doc["incumbent"]["name"] == "learned (in force)" and doc["incumbent"]["shipped"] > 0.4
    assert doc["version"] == 2 and [v.version for v in list_versions(db)] == [2, 1]


def test_too_few_grades_is_a_clear_error(db: Engine) -> None:
    fill(db, 12, hedges_mean_wrong=True)
    result = runner.invoke(app, ["confidence", "train"])
    assert result.exit_code == 2
    assert "not enough graded answers" in result.output and "6 graded correct and 6 incorrect" in result.output
    assert list_versions(db) == []
    no_tier = runner.invoke(app, ["confidence", "train", "--tier", "1"])
    assert no_tier.exit_code == 2 and "no triage tier 1" in no_tier.output
