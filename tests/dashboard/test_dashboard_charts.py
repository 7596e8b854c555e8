"""The escalation chart in a real browser (Debian's chromium through Playwright): call counts and the
escalation rate each have their own axis, so no bar of calls can cross the storm line, and the bucket still
filling is drawn apart from the line instead of dragging it down.

The decisions are written straight into the proxy's store, spread over the last few minutes, so that the chart
has complete buckets as well as the current one."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.dashboard.window import parse_window
from tiered.server.thread import ProxyThread

from ._helpers import store_decisions
from .test_dashboard_browser import expect, sign_in


def ys(locator: Any, attribute: str = "y") -> list[float]:
    return [float(v) for v in locator.evaluate_all(f"(nodes) => nodes.map((n) => n.getAttribute('{attribute}'))")]


def tick_y(axis: Any, value: float) -> float:
    """The y of the grid line drawn for ``value`` on ``axis`` (its label sits 4 px below it)."""
    for node in axis.locator("text.tick").all():
        if abs(float(node.get_attribute("data-value")) - value) < 1e-9:
            return float(node.get_attribute("y")) - 4
    raise AssertionError(f"no tick for {value}")


def seed_buckets(proxy: ProxyThread) -> None:
    """Six complete 30 s buckets of 20 routed calls, 2 of them escalated (10%), and one call so far in the
    current bucket, which shipped (0% so far)."""
    assert proxy.services is not None and proxy.services.engine is not None
    edges = parse_window("15m").edges(datetime.now(UTC))
    if edges[-1] - datetime.now(UTC) < timedelta(seconds=8):  # leave the page time to load within this bucket
        time.sleep((edges[-1] - datetime.now(UTC)).total_seconds() + 0.5)
        edges = parse_window("15m").edges(datetime.now(UTC))
    made = []
    for b in range(2, 8):
        start = edges[-1 - b]
        for i in range(20):
            kind = "escalated" if i < 2 else "shipped"
            made.append(
                make_decision(
                    f"b{b}-{i}", kind, confidence=0.3 if i < 2 else 0.9, created_at=start + timedelta(seconds=i)
                )
            )
    made.append(make_decision("now-0", "shipped", created_at=edges[-2] + timedelta(milliseconds=1)))
    store_decisions(proxy.services.engine, made)


def test_counts_and_rate_have_their_own_axes(page: Any, proxy: ProxyThread) -> None:
    seed_buckets(proxy)
    sign_in(page, proxy)
    chart = page.locator("#chart-escalation svg")
    expect(chart.locator("rect.bar-calls")).to_have_count(7)
    rate_axis, calls_axis = chart.locator("g.axis-rate"), chart.locator("g.axis-calls")
    rate_labels = rate_axis.locator("text.tick").all_text_contents()
    calls_labels = calls_axis.locator("text.tick").all_text_contents()
    assert rate_labels and all(re.fullmatch(r"\d+%", t) for t in rate_labels), rate_labels
    assert calls_labels and all(re.fullmatch(r"[\d,]+", t) for t in calls_labels), calls_labels
    calls_max = max(float(n.get_attribute("data-value")) for n in calls_axis.locator("text.tick").all())
    assert calls_max >= 20

    # the bands do not overlap: the whole calls strip lies below the rate band's 0% line, storm line included
    rate_floor = tick_y(rate_axis, 0.0)
    calls_top, calls_floor = tick_y(calls_axis, calls_max), tick_y(calls_axis, 0.0)
    assert rate_floor < calls_top < calls_floor
    storm = float(chart.locator("line.storm").get_attribute("y1"))
    assert storm < rate_floor
    bars = chart.locator("rect.bar-calls")
    assert all(top > rate_floor for top in ys(bars)), "a bar of calls reaches into the rate band"

    # each bar reads on the count axis, the line on the percent axis
    full = chart.locator('rect.bar-calls[data-calls="20"]').first
    expected_top = calls_floor - (calls_floor - calls_top) * 20 / calls_max
    assert abs(float(full.get_attribute("y")) - expected_top) < 0.6
    line = chart.locator("path.line-rate")
    points = re.findall(r"[ML]([\d.]+),([\d.]+)", line.get_attribute("d"))
    assert len(points) == 6  # the complete buckets only
    at_10 = tick_y(rate_axis, 0.1)
    assert all(abs(float(y) - at_10) < 0.6 for _, y in points)

    # the current bucket: its one shipped call shows as "0% so far", apart from the line
    partial = chart.locator("circle.dot-partial")
    expect(partial).to_have_count(1)
    assert float(partial.get_attribute("data-rate")) == 0.0
    assert float(partial.get_attribute("cx")) > max(float(x) for x, _ in points)
    expect(chart.locator("rect.bar-calls.partial")).to_have_count(1)
    expect(chart.locator("path.line-partial")).to_have_count(1)
