"""The report names pass-through calls as such (issue #20, item 7): the routes table showed their row with a
blank name, and "answered by" listed a pass-through ``claude-sonnet-4-6`` call as tier 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _store_helpers import make_decision
from rich.console import Console
from sqlalchemy.engine import Engine

from tiered.store import DecisionWriter, WriterConfig, build_report
from tiered.store.render import render_report


@pytest.mark.parametrize("width", [80, 120])
def test_pass_through_rows_are_named(engine: Engine, tmp_path: Path, width: int) -> None:
    now = datetime.now(UTC)
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        writer.submit(make_decision("d1", route="default", created_at=now))
        writer.submit(make_decision("d2", "escalated", route="default", created_at=now))
        pass_through = make_decision("p1", "passthrough", route="", cost=0.004, counterfactual=0.004, created_at=now)
        writer.submit(pass_through)
    report = build_report(engine, since=now - timedelta(hours=1))
    (share,) = [t for t in report.tiers if t.passthrough]
    assert (share.tier, share.model, share.calls) == (None, "claude-opus-4-7", 1)
    console = Console(record=True, width=width)
    render_report(report, console)
    text = console.export_text()
    answered = text.split("answered by")[1].split("triage confidence")[0]
    opus = [line for line in answered.splitlines() if "claude-opus-4-7" in line]
    assert any("(pass-through)" in line for line in opus), answered
    routes = text.split("routes")[-1]
    rows = [line.replace("│", " ").split() for line in routes.splitlines() if "$" in line]
    assert rows and all(row[1][:1].isdigit() for row in rows), routes  # no row starts with a blank name
    assert any(row[0] == "(pass-through)" for row in rows), routes
    assert "$-" not in text
