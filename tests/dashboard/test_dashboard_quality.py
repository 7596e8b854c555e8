"""The false-confident panel in a real browser: its markers are labelled, the ceiling is shown, and an open
false-confident alert is shown beside the verdict it backs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.formatting import percent
from tiered.quality.alerts import AlertManager
from tiered.quality.settings import AlertSettings
from tiered.quality.thresholds import record_change
from tiered.server.thread import ProxyThread
from tiered.store.grades import record_grade

from ._helpers import api, store_decisions
from .test_dashboard_browser import expect, kpi, sign_in


def test_the_panel_labels_its_markers_and_shows_the_ceiling(page: Any, proxy: ProxyThread) -> None:
    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine
    at = datetime.now(UTC) - timedelta(minutes=3)
    store_decisions(engine, [make_decision(f"g{i}", "shipped", created_at=at) for i in range(30)])
    for i in range(30):
        record_grade(engine, f"g{i}", "incorrect" if i < 5 else "correct", "human", grader="admin")
    record_change(
        engine,
        route="default",
        old=0.8,
        new=0.9,
        reason="controller: raised 0.8 -> 0.9",
        evidence={},
        expected_last_id=None,
    )
    AlertManager(AlertSettings(), engine, []).update("false_confident", "default", True, "over target", {}, "warning")

    sign_in(page, proxy)
    page.select_option("#route", "default")
    panel = page.locator("#quality")
    expect(panel.locator('[data-quality="verdict"]')).to_have_text("bound over target")
    bound = panel.locator('[data-marker="bound"]')
    served = api(proxy, "quality", route="default", window="15m").json()
    expect(bound).to_have_text(f"bound {percent(served['false_confident']['upper_bound'])}")
    expect(bound.locator("span")).to_be_visible()
    expect(panel.locator('[data-marker="target"]')).to_have_text("target 5.0%")
    expect(panel.locator('[data-quality="ceiling"]')).to_contain_text("Threshold 0.90 is at its ceiling 0.90")
    expect(panel.locator('[data-quality="alert"]')).to_contain_text("False-confident alert open since")
    expect(kpi(page, "threshold-sub")).to_contain_text("at its ceiling 0.90")
