"""``tiered demo``: the replayed items, and a short run that fills the dashboard with savings, escalations,
grades, audit samples waiting for a person and a threshold change."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tiered.cli import app
from tiered.dashboard.demo_items import demo_scenario, find_gastro, gastro_items, synthetic_items
from tiered.demo import DemoConfig, running_demo
from tiered.store import make_engine
from tiered.store.schema import audit_samples, decisions, grades, threshold_changes

from ._helpers import wait_for

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_synthetic_items_mean_what_they_say() -> None:
    items = synthetic_items()
    assert items == synthetic_items()  # seeded: every run replays the same
    assert len({i.tag for i in items}) == len(items)
    confident = [i for i in items if i.confidence >= 0.8]
    unsure = [i for i in items if i.confidence < 0.6]
    assert confident and unsure
    # confidence carries signal: confident answers are right far more often, though not always
    right = sum(i.correct for i in confident) / len(confident)
    assert 0.85 < right < 1.0
    assert all(i.cheap_answer is None for i in unsure if i.final_answer is None)
    rules = demo_scenario(items, latency=0).rules
    assert len(rules) == 2 * len(items)
    assert rules[0].matches(items[0].prompt, "claude-haiku-4-5")
    assert not rules[0].matches(items[1].prompt, "claude-haiku-4-5")


def test_gastro_items_replay_the_real_outcomes() -> None:
    path = find_gastro(SHARED_DATA)
    if path is None:
        pytest.skip(f"the reference data is not at {SHARED_DATA}")
    items = gastro_items(path)
    assert len(items) == 300
    assert {i.confidence for i in items} <= {0.7, 0.8, 0.9, 1.0}
    # the data set's own figures: Claude Haiku says 9/10 on 241 questions and is right on 124 of them
    nines = [i for i in items if i.confidence == 0.9]
    assert (len(nines), sum(i.correct for i in nines)) == (241, 124)
    assert find_gastro(SHARED_DATA / "verbalized-confidence-gastro") == path
    assert find_gastro(Path("/nonexistent")) is None


def test_a_short_demo_fills_the_dashboard(tmp_path: Path) -> None:
    data = SHARED_DATA if find_gastro(SHARED_DATA) is not None else None
    config = DemoConfig(
        home=tmp_path, port=0, data_dir=data, rate=40.0, latency=0.0, audit_rate=0.5, controller_interval_s=0.5
    )
    with running_demo(config) as demo:
        engine = make_engine(f"sqlite:///{tmp_path / 'tiered.db'}")

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())

        wait_for(lambda: count(threshold_changes) > 0, timeout=30, what="a threshold change")
        wait_for(lambda: count(audit_samples, audit_samples.c.status == "pending") > 0, what="a pending audit")
        assert count(grades, grades.c.grader_kind == "app") >= 30
        assert demo.traffic.stats.graded > 0 and demo.traffic.stats.failed == 0
        routes = {"default", "gastro"} if data is not None else {"default"}
        with engine.connect() as conn:
            assert set(conn.execute(sa.select(decisions.c.route).distinct()).scalars()) == routes

        headers = {"x-api-key": demo.admin_key}
        o = httpx2.get(f"{demo.url}/v1/tiered/dashboard/overview", params={"window": "15m"}, headers=headers).json()
        assert o["cost"]["savings_usd"] > 0 and o["escalated_calls"] > 0
        page = httpx2.get(demo.dashboard_url.split("#")[0])
        assert page.status_code == 200
        engine.dispose()


def test_the_command_prints_where_to_look() -> None:
    # no --data: the built-in questions (a folder given that lacks the data set is an error, not a fallback)
    result = CliRunner().invoke(app, ["demo", "--port", "0", "--seconds", "2"])
    assert result.exit_code == 0, result.output
    assert "/dashboard#window=15m" in result.output
    assert "admin key   demo-admin-" in result.output
    assert "routes      default (a synthetic everyday mix)\n" in result.output
    assert "removed on exit" in result.output
    database = Path(result.output.split("database    ")[1].split()[0])
    assert database.name == "tiered.db" and not database.parent.exists()
