"""``tiered grade``, ``tiered threshold show|set`` and ``tiered alerts``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import shipped
from typer.testing import CliRunner

from tiered.cli import app
from tiered.quality.alerts import AlertManager
from tiered.quality.sampler import AuditPick
from tiered.quality.samples import SampleRecorder
from tiered.quality.settings import AlertSettings
from tiered.quality.thresholds import history
from tiered.quality.transcript import request_text
from tiered.store import default_database_url, make_engine, upgrade
from tiered.store.grades import list_grades, pending_audits
from tiered.store.privacy import Content, ContentReason
from tiered.store.records import insert_records, to_record

runner = CliRunner()


@pytest.fixture
def db() -> Iterator[Engine]:
    engine = make_engine(default_database_url())
    upgrade(engine)
    yield engine
    engine.dispose()


def audit(engine: Engine, ident: str, question: str, answer: str, probability: float = 0.01) -> None:
    content = Content(request_text({"messages": [{"role": "user", "content": question}]}), answer, ContentReason.AUDIT)
    decision = shipped(ident)
    with engine.begin() as conn:
        insert_records(conn, [to_record(decision, content, timedelta(days=1))])
    recorder = SampleRecorder(engine)
    recorder.add(AuditPick(ident, "default", probability, "uniform", 1.0), decision.created_at)
    recorder.flush()


def test_grade_interactively(db: Engine) -> None:
    audit(db, "d1", "Capital of France?", "Lyon")
    audit(db, "d2", "2 + 2?", "4")
    audit(db, "d3", "Largest planet?", "Jupiter")
    result = runner.invoke(app, ["grade", "--grader", "ana"], input="w it is Paris\ns\nc\n\n")
    assert result.exit_code == 0, result.output
    assert "[user]\nCapital of France?" in result.output and "--- answer\nLyon" in result.output
    (wrong,) = list_grades(db, "d1")
    assert (wrong.verdict.value, wrong.reason, wrong.grader, wrong.grader_kind.value) == (
        "incorrect",
        "it is Paris",
        "ana",
        "human",
    )
    assert list_grades(db, "d2") == []  # skipped: still pending
    assert list_grades(db, "d3")[0].verdict.value == "correct"
    assert [a.decision_id for a in pending_audits(db)] == ["d2"]
    quit_early = runner.invoke(app, ["grade"], input="q\n")
    assert quit_early.exit_code == 0 and list_grades(db, "d2") == []


def test_piped_keys_grade_one_answer_each(db: Engine) -> None:
    """Issue #20 item 5: the dashboard's keys; no reason prompt eats the next key."""
    audit(db, "d1", "Capital of France?", "Paris")
    audit(db, "d2", "2 + 2?", "5")
    audit(db, "d3", "Largest planet?", "Jupiter")
    result = runner.invoke(app, ["grade", "--grader", "ana"], input="c\nw\nq\n")
    assert result.exit_code == 0, result.output
    assert [(g.verdict.value, g.reason) for g in list_grades(db, "d1")] == [("correct", None)]
    assert [(g.verdict.value, g.reason) for g in list_grades(db, "d2")] == [("incorrect", None)]
    assert list_grades(db, "d3") == []


def test_a_stray_key_records_nothing_and_asks_again(db: Engine) -> None:
    audit(db, "d1", "Capital of France?", "Paris")
    result = runner.invoke(app, ["grade"], input="x\nc\n")
    assert result.exit_code == 0, result.output
    assert "'x' is not a verdict key: nothing recorded" in result.output
    assert [g.verdict.value for g in list_grades(db, "d1")] == ["correct"]


def test_the_weight_is_explained(db: Engine) -> None:
    audit(db, "d1", "Q", "A", probability=0.2)  # 20x the default route's 1% base rate
    result = runner.invoke(app, ["grade", "d1", "--verdict", "correct"])
    assert result.exit_code == 0, result.output
    assert "(weight 0.05: answers like this are audited 20x as often as the route's base rate" in result.output
    assert "counts as 0.05 of an answer in the false-confident rate" in result.output


def test_undo_a_grade(db: Engine) -> None:
    audit(db, "d1", "Q", "A")
    assert runner.invoke(app, ["grade", "d1", "--verdict", "w", "--grader", "ana"]).exit_code == 0
    assert pending_audits(db) == []
    undone = runner.invoke(app, ["grade", "d1", "--undo"])
    assert undone.exit_code == 0, undone.output
    assert "undid incorrect by ana on d1" in undone.output and "0 grades left" in undone.output
    assert list_grades(db, "d1") == [] and [a.decision_id for a in pending_audits(db)] == ["d1"]
    again = runner.invoke(app, ["grade", "d1", "--undo"])
    assert again.exit_code == 2 and "has no grade to undo" in again.output
    assert runner.invoke(app, ["grade", "--undo"]).exit_code == 2
    with db.begin() as conn:  # a decision that was never an audit sample has no sample to reopen
        insert_records(conn, [to_record(shipped("d2"), None, timedelta(days=1))])
    assert runner.invoke(app, ["grade", "d2", "--verdict", "c"]).exit_code == 0
    plain = runner.invoke(app, ["grade", "d2", "--undo"])
    assert "0 grades left" in plain.output and "audit sample" not in plain.output


def test_a_verdict_that_moves_a_threshold_asks_first(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """One key must not move a threshold for everyone unnoticed: at a terminal it is confirmed."""
    from tiered.quality import grade_command

    monkeypatch.setenv("TIERED_QUALITY__MIN_GRADES", "3")
    monkeypatch.setenv("TIERED_QUALITY__CONTROLLER_RULE", "upper-bound")  # raises on 1 wrong of 3
    for ident in ("d1", "d2", "d3"):
        audit(db, ident, "Q " + ident, "A")
    for ident in ("d1", "d2"):
        assert runner.invoke(app, ["grade", ident, "--verdict", "correct"]).exit_code == 0
    monkeypatch.setattr(grade_command, "_interactive", lambda: True)
    declined = runner.invoke(app, ["grade"], input="w\nn\n")
    assert declined.exit_code == 0, declined.output
    assert "the controller will raise route default's threshold 0.8 -> 0.85 for every replica" in declined.output
    assert list_grades(db, "d3") == []
    kept = runner.invoke(app, ["grade"], input="w\ny\n")
    assert kept.exit_code == 0, kept.output
    assert [g.verdict.value for g in list_grades(db, "d3")] == ["incorrect"]
    assert "to take it back: tiered grade --undo d3" in kept.output


def test_a_move_the_evidence_already_called_for_needs_no_confirmation(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiered.quality import grade_command

    monkeypatch.setenv("TIERED_QUALITY__MIN_GRADES", "3")
    monkeypatch.setenv("TIERED_QUALITY__CONTROLLER_RULE", "upper-bound")  # raises on 1 wrong of 3
    for ident in ("d1", "d2", "d3", "d4"):
        audit(db, ident, "Q " + ident, "A")
    for ident, verdict in (("d1", "w"), ("d2", "c"), ("d3", "c")):  # the third brings the raise about
        assert runner.invoke(app, ["grade", ident, "--verdict", verdict]).exit_code == 0
    monkeypatch.setattr(grade_command, "_interactive", lambda: True)
    result = runner.invoke(app, ["grade"], input="c\n")  # no answer to a confirmation is given
    assert result.exit_code == 0, result.output
    assert "keep this verdict?" not in result.output and "will raise" not in result.output
    assert [g.verdict.value for g in list_grades(db, "d4")] == ["correct"]


def test_grade_one_decision_for_scripts(db: Engine) -> None:
    audit(db, "d9", "Q", "A")
    result = runner.invoke(app, ["grade", "d9", "--verdict", "unsure", "--reason", "cannot check"])
    assert result.exit_code == 0, result.output
    assert list_grades(db, "d9")[0].verdict.value == "unsure"
    assert runner.invoke(app, ["grade", "nope", "--verdict", "correct"]).exit_code == 2
    assert runner.invoke(app, ["grade", "d9", "--verdict", "great"]).exit_code == 2
    assert "no audit samples" in runner.invoke(app, ["grade"]).output


def test_threshold_show_and_set(db: Engine) -> None:
    shown = runner.invoke(app, ["threshold", "show"])
    assert shown.exit_code == 0, shown.output
    assert "default: threshold 0.8 (configured 0.8, ceiling 0.9" in shown.output
    result = runner.invoke(app, ["threshold", "set", "default", "0.86", "--reason", "incident 42"])
    assert result.exit_code == 0, result.output
    (change,) = history(db, "default")
    assert (change.old_threshold, change.new_threshold) == (0.8, 0.86)
    assert change.reason.startswith("manual: set by") and change.reason.endswith("incident 42")
    assert change.evidence["manual"] is True
    data = json.loads(runner.invoke(app, ["threshold", "show", "--json"]).output)
    assert data["default"]["threshold"] == 0.86 and data["three-tier"]["threshold"] == 0.8
    assert runner.invoke(app, ["threshold", "set", "default", "--reset"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["threshold", "show", "--json"]).output)["default"]["threshold"] == 0.8
    assert runner.invoke(app, ["threshold", "set", "default", "1.5"]).exit_code == 2
    assert runner.invoke(app, ["threshold", "set", "default"]).exit_code == 2
    assert runner.invoke(app, ["threshold", "set", "nope", "0.9"]).exit_code == 2


def test_alerts_listing(db: Engine) -> None:
    assert "no alerts" in runner.invoke(app, ["alerts"]).output
    manager = AlertManager(AlertSettings(), db, [])
    manager.update("escalation_storm", "default", True, "62% of the last 40 decisions escalated", {"n": 40}, "warning")
    manager.update("escalation_storm", "default", False, "", {}, "warning")
    manager.update("upstream_errors", "default", True, "30% of calls failed", {}, "critical")
    listed = runner.invoke(app, ["alerts"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "upstream_errors" in lines[0] and "open" in lines[0]
    assert "escalation_storm" in lines[2] and "resolved" in lines[2]
    rows = json.loads(runner.invoke(app, ["alerts", "--json", "--route", "default"]).output)
    assert [r["kind"] for r in rows] == ["upstream_errors", "escalation_storm"]
    assert runner.invoke(app, ["alerts", "--since", "yesterday-ish"]).exit_code == 2
