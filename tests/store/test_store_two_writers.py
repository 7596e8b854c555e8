"""Two writer processes share one database; the report over it is consistent with what both wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.store._store_helpers import HERE, PYTHON, child_env, stored_ids

from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.report import build_report

N = 1200


def expected(n: int) -> dict[str, float]:
    kinds = [("shipped", "escalated", "passthrough", "failed")[i % 4] for i in range(n)]
    costs = [0.0013 * (i % 7 + 1) for i in range(n)]
    return {
        "calls": n,
        "passthrough": kinds.count("passthrough"),
        "failed": kinds.count("failed"),
        "escalated": kinds.count("escalated") + kinds.count("failed"),
        "cost": sum(costs),
        "counterfactual": 0.0211 * n,
    }


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_one_database_one_consistent_report(
    db: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url: str = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    upgrade(url)
    children = [
        subprocess.Popen(
            [PYTHON, str(HERE / "_store_writer_child.py"), "plain", url, str(tmp_path / f"spool-{p}"), p, str(N)],
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        for p in ("a", "b")
    ]
    outputs = [c.communicate(timeout=60)[0].decode() for c in children]
    assert [c.returncode for c in children] == [0, 0], outputs
    for out in outputs:
        assert f"written={N} spooled=0 dropped=0" in out

    engine = make_engine(url)
    try:
        assert stored_ids(engine) == {f"{p}{i:06d}" for p in "ab" for i in range(N)}
        report = build_report(engine, since=None)
    finally:
        engine.dispose()
    one = expected(N)
    assert report.calls == 2 * N
    assert report.passthrough_calls == 2 * one["passthrough"]
    assert report.routed_calls == 2 * (N - one["passthrough"])
    assert report.failed_calls == 2 * one["failed"]
    assert report.escalated_calls == 2 * one["escalated"]
    assert report.escalation_rate == pytest.approx(one["escalated"] / (N - one["passthrough"]))
    assert round(report.cost.actual_usd, 2) == round(2 * one["cost"], 2)
    assert report.cost.actual_usd == pytest.approx(2 * one["cost"], abs=1e-9)
    assert report.cost.counterfactual_usd == pytest.approx(2 * one["counterfactual"], abs=1e-9)
    assert report.cost.savings_usd == pytest.approx(2 * (one["counterfactual"] - one["cost"]), abs=1e-9)
    assert sum(t.calls for t in report.tiers) == 2 * N
