"""The false-confident rate over a window, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import escalated, shipped, store

from tiered.config import load_settings
from tiered.quality.stats import GradeWindow, false_confident_summary, route_summary
from tiered.store.grades import record_grade


def grade(engine: Engine, ident: str, verdict: str, *, minutes_ago: float = 0.0, weight: float = 1.0) -> None:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    record_grade(engine, ident, verdict, "judge", weight=weight, now=when)


def test_counts_latest_decisive_grade_once(engine: Engine) -> None:
    store(engine, *(shipped(f"d{i}") for i in range(10)), escalated("e0"))
    for i in range(10):
        grade(engine, f"d{i}", "incorrect" if i < 3 else "correct", minutes_ago=10)
    grade(engine, "d0", "correct", minutes_ago=5)  # a person overrules the judge: counted once, as correct
    grade(engine, "d5", "unsure", minutes_ago=1)  # unsure is left out; d5's earlier verdict still counts
    grade(engine, "e0", "incorrect")  # escalated: not a shipped answer
    summary = false_confident_summary(engine, route="default", target=0.05)
    assert (summary.n, summary.wrong) == (10, 2)
    assert summary.rate == pytest.approx(0.2)
    assert summary.upper_bound == pytest.approx(float(stats.beta.ppf(0.95, 3, 8)), abs=1e-9)
    assert summary.over_target and summary.effective_n == pytest.approx(10)
    assert summary.to_dict()["over_target"] is True


def test_windows_routes_tiers_and_thresholds(engine: Engine) -> None:
    store(
        engine,
        *(shipped(f"a{i}", threshold=0.8) for i in range(6)),
        *(shipped(f"b{i}", threshold=0.85) for i in range(4)),
        shipped("t1", tier=1),
        shipped("o1", route="other"),
    )
    for i in range(6):
        grade(engine, f"a{i}", "incorrect", minutes_ago=60 - i)
    for i in range(4):
        grade(engine, f"b{i}", "correct", minutes_ago=10 - i)
    grade(engine, "t1", "incorrect", minutes_ago=1)
    grade(engine, "o1", "incorrect", minutes_ago=1)
    everything = false_confident_summary(engine, route=None, window=GradeWindow(last=None))
    assert (everything.n, everything.wrong) == (12, 8)
    assert false_confident_summary(engine, route="default", window=GradeWindow(last=None)).n == 11
    assert false_confident_summary(engine, route="default", tier=1).n == 1
    last4 = false_confident_summary(engine, route="default", tier=0, window=GradeWindow(last=4))
    assert (last4.n, last4.wrong) == (4, 0)  # the four most recently graded
    recent = false_confident_summary(
        engine, route="default", tier=0, window=GradeWindow(last=None, span=timedelta(minutes=56.5))
    )
    assert (recent.n, recent.wrong) == (6, 2)
    current = false_confident_summary(engine, route="default", min_threshold=0.85)
    assert (current.n, current.wrong) == (4, 0)
    empty = false_confident_summary(engine, route="nothing")
    assert (empty.n, empty.rate, empty.upper_bound) == (0, None, 1.0)


def test_weighted_grades(engine: Engine) -> None:
    store(engine, *(shipped(f"w{i}") for i in range(20)))
    for i in range(10):
        grade(engine, f"w{i}", "incorrect", weight=0.1)  # oversampled near the threshold
    for i in range(10, 20):
        grade(engine, f"w{i}", "correct", weight=1.0)
    summary = false_confident_summary(engine, route="default", method="wilson", level=0.9)
    assert summary.rate == pytest.approx(1 / 11)
    assert summary.effective_n == pytest.approx(121 / 10.1)
    assert summary.method == "wilson" and summary.level == 0.9


def test_route_summary_reads_the_route_settings(engine: Engine) -> None:
    settings = load_settings(
        overrides={
            "routes.default.max_false_confident": 0.1,
            "routes.default.confidence_level": 0.9,
            "routes.default.quality_window": 3,
            "quality.bound": "wilson",
        }
    )
    store(engine, *(shipped(f"r{i}") for i in range(5)))
    for i in range(5):
        grade(engine, f"r{i}", "correct", minutes_ago=5 - i)
    summary = route_summary(engine, settings, "default")
    assert (summary.n, summary.target, summary.level, summary.method) == (3, 0.1, 0.9, "wilson")


def test_a_slice_has_its_own_rate(engine: Engine) -> None:
    import dataclasses

    clean = [dataclasses.replace(shipped(f"c{i}"), slice="team-a") for i in range(6)]
    noisy = [dataclasses.replace(shipped(f"n{i}"), slice="team-b") for i in range(4)]
    store(engine, *clean, *noisy)
    for d in clean:
        grade(engine, d.id, "correct")
    for d in noisy:
        grade(engine, d.id, "incorrect")
    a = false_confident_summary(engine, route="default", slice_="team-a")
    b = route_summary(engine, load_settings(environ={}), "default", slice_="team-b")
    whole = false_confident_summary(engine, route="default")
    assert (a.n, a.wrong, a.slice) == (6, 0, "team-a")
    assert (b.n, b.wrong, b.rate) == (4, 4, 1.0)
    assert (whole.n, whole.wrong) == (10, 4)
