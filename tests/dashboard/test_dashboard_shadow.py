"""The shadow-projection panel in a real browser: hidden without shadow results; with them, a table per route
and slice whose figures are the API's, and the recommendation of ``tiered backtest --from-log``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tiered.server.thread import ProxyThread
from tiered.store.shadow import ShadowRow, record_shadow

from ._helpers import api
from .test_dashboard_browser import expect, sign_in


def _row(ident: str, confidence: float, verdict: str, slice_: str) -> ShadowRow:
    now = datetime.now(UTC)
    return ShadowRow(ident, "default", slice_, "claude-haiku-4-5", confidence, None, verdict, 1e-4, 1e-3, 2e-4, now)


def test_the_panel_shows_projections_per_slice_and_the_recommendation(page: Any, proxy: ProxyThread) -> None:
    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine
    sign_in(page, proxy)
    expect(page.locator("#shadow-panel")).to_be_hidden()
    for i in range(200):  # team-a: right at 0.9; team-b: wrong at 0.7
        record_shadow(engine, _row(f"a{i:03d}", 0.9, "correct", "team-a"))
    for i in range(30):
        record_shadow(engine, _row(f"b{i:03d}", 0.7, "incorrect", "team-b"))
    page.select_option("#route", "default")
    panel = page.locator("#shadow-panel")
    expect(panel).to_be_visible()
    served = api(proxy, "shadow", route="default", window="15m").json()["projections"]
    assert [(p["route"], p["slice"], p["n"]) for p in served] == [
        ("default", None, 230),
        ("default", "team-a", 200),
        ("default", "team-b", 30),
    ]
    whole = panel.locator('.shadow[data-slice=""]')
    expect(whole.locator("h4")).to_contain_text("default · all slices")
    row = whole.locator('tr[data-threshold="0.70"]')
    expect(row).to_contain_text("100.0%")  # everything ships at 0.70
    expect(row).to_contain_text("30 / 230")
    expect(row).to_have_class("over")
    expect(whole.locator('tr[data-threshold="0.75"]')).to_contain_text("0 / 200")
    expect(whole.locator('[data-shadow="recommendation"]')).to_contain_text("Recommended threshold")
    expect(panel.locator('.shadow[data-slice="team-b"] [data-shadow="recommendation"]')).to_contain_text(
        "No threshold recommended"
    )
