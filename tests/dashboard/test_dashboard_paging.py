"""The decisions table in a real browser: it pages back past its first 30 rows, and filters by outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.server.thread import ProxyThread

from ._helpers import api, store_decisions, wait_for
from .test_dashboard_browser import expect, sign_in


def seed(proxy: ProxyThread) -> list[str]:
    """40 decisions a second apart, every fourth escalated (10), newest first in the returned ids; the 30th and
    31st share a time, so that a page boundary falls between rows of the same time."""
    assert proxy.services is not None and proxy.services.engine is not None
    start = datetime.now(UTC) - timedelta(minutes=5)
    times = [start + timedelta(seconds=i) for i in range(40)]
    times[9] = times[10]  # newest first, these are rows 30 and 31
    made = [
        make_decision(f"d{i:02d}", "escalated" if i % 4 == 0 else "shipped", created_at=times[i]) for i in range(40)
    ]
    store_decisions(proxy.services.engine, made)
    return [f"d{i:02d}" for i in sorted(range(40), key=lambda i: (times[i], f"d{i:02d}"), reverse=True)]


def shown(page: Any) -> list[str]:
    rows = page.locator("#decisions tbody tr")
    return [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]


def test_the_table_pages_back_and_filters(page: Any, proxy: ProxyThread) -> None:
    newest_first = seed(proxy)
    sign_in(page, proxy)
    table = page.locator("#decisions tbody tr")
    expect(table).to_have_count(30)
    expect(page.locator("#decision-range")).to_have_text("1–30 of 40")
    assert shown(page) == newest_first[:30]
    expect(page.locator("#page-newer")).to_be_disabled()

    page.click("#page-older")
    expect(page.locator("#decision-range")).to_have_text("31–40 of 40")
    expect(table).to_have_count(10)
    assert shown(page) == newest_first[30:]  # nothing lost or repeated at the boundary between equal times
    expect(page.locator("#page-older")).to_be_disabled()
    refreshes = lambda: int(page.get_attribute("body", "data-refreshes") or 0)  # noqa: E731
    seen = refreshes()
    wait_for(lambda: refreshes() >= seen + 2, what="two more refreshes")  # the page stays where it was
    assert shown(page) == newest_first[30:]

    page.click("#page-newer")
    expect(page.locator("#decision-range")).to_have_text("1–30 of 40")

    page.select_option("#decision-outcome", "escalated")
    expect(page.locator("#decision-range")).to_have_text("1–10 of 10")
    expect(table).to_have_count(10)
    assert all(text.startswith("escalated") for text in page.locator("#decisions tbody .badge").all_inner_texts())
    assert "outcome=escalated" in page.url
    page.select_option("#decision-grade", "incorrect")
    expect(page.locator("#decisions tbody")).to_contain_text("No decisions in this window match the filter.")
    expect(page.locator("#decision-range")).to_have_text("0 of 0")


def test_the_decisions_endpoint_pages_with_a_cursor(proxy: ProxyThread) -> None:
    newest_first = seed(proxy)
    first = api(proxy, "decisions", window="15m", limit=30).json()
    assert [d["id"] for d in first["decisions"]] == newest_first[:30] and (first["total"], first["newer"]) == (40, 0)
    last = first["decisions"][-1]
    rest = api(proxy, "decisions", window="15m", limit=30, before=last["created_at"], before_id=last["id"]).json()
    assert [d["id"] for d in rest["decisions"]] == newest_first[30:] and rest["newer"] == 30
    escalated = api(proxy, "decisions", window="15m", outcome="escalated").json()
    assert escalated["total"] == 10 and {d["outcome"] for d in escalated["decisions"]} == {"escalated"}
    for bad in ({"outcome": "nope"}, {"grade": "meh"}, {"before_id": "d01"}):
        response = api(proxy, "decisions", **bad)
        assert response.status_code == 400 and response.json()["type"] == "error", response.text
