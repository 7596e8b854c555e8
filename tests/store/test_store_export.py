from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.store._store_helpers import Kind, make_decision

from tiered.store.export import export_decisions
from tiered.store.privacy import Content
from tiered.store.writer import DecisionWriter, WriterConfig

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> Engine:
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool", cleanup_interval_s=None)) as writer:
        for i in range(10):
            # Pairs share a timestamp, so paging must break ties by id.
            created = T0 + timedelta(minutes=i // 2)
            kind: Kind = "escalated" if i % 2 else "shipped"
            writer.submit(
                make_decision(f"e{i:02d}", kind, route="r1" if i < 7 else "r2", created_at=created),
                Content(f"question {i}", f"answer {i}") if i == 3 else None,
            )
    return engine


def test_jsonl_streams_every_decision_with_its_attempts(filled: Engine) -> None:
    out = io.StringIO()
    assert export_decisions(filled, out, fmt="jsonl", chunk=3) == 10
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [f"e{i:02d}" for i in range(10)]
    assert [len(r["attempts"]) for r in rows] == [1, 2] * 5
    assert rows[1]["attempts"][1]["model"] == "claude-opus-4-7"
    assert rows[0]["attempts"][0]["rewrites"] == ["temperature"]
    assert datetime.fromisoformat(rows[0]["created_at"]) == T0
    assert "request_text" not in rows[3]


def test_content_is_exported_only_when_asked(filled: Engine) -> None:
    out = io.StringIO()
    export_decisions(filled, out, include_content=True)
    rows = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert rows["e03"]["request_text"] == "question 3"
    assert rows["e04"]["request_text"] is None


def test_csv_with_filters(filled: Engine) -> None:
    out = io.StringIO()
    n = export_decisions(filled, out, fmt="csv", since=T0 + timedelta(minutes=1), route="r1", chunk=2)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert n == len(rows) == 5
    assert [r["id"] for r in rows] == ["e02", "e03", "e04", "e05", "e06"]
    assert rows[0]["escalated"] == "false" and rows[1]["escalated"] == "true"
    assert "request_text" not in rows[0]
    assert float(rows[0]["cost_usd"]) == pytest.approx(0.001)
