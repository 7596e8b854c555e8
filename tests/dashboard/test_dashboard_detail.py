"""The decision detail in a real browser at a laptop's width: every column of the attempts table is visible,
without scrolling it sideways."""

from __future__ import annotations

from typing import Any

import httpx2

from tiered.server.thread import ProxyThread

from ._helpers import api, ask, wait_for
from .test_dashboard_browser import expect, sign_in


def test_the_attempts_table_fits_at_1440_px(browser: Any, proxy: ProxyThread) -> None:
    hard = ask(proxy, "[[fake haiku:confidence=0.3]] a question the triage is unsure of").headers[
        "x-tiered-decision-id"
    ]
    wait_for(lambda: api(proxy, "decisions", window="15m").json()["decisions"], what="the stored decision")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, proxy)
        page.click(f'#decisions tbody tr[data-id="{hard}"]')
        table = page.locator("#detail [data-detail=attempts]")
        expect(table.locator("tbody tr")).to_have_count(2)
        status = table.locator("th").last
        expect(status).to_have_text("Status")
        expect(table.locator("tbody tr").first.locator("td").last).to_have_text("200")
        wrap = page.locator("#detail .table-wrap")
        sizes = wrap.evaluate("(n) => [n.scrollWidth, n.clientWidth]")
        assert sizes[0] <= sizes[1], f"the attempts table overflows its box: {sizes}"
        # each fact's label sits right above its value
        for pair in page.locator("#detail dl.facts > div").all():
            label, value = pair.locator("dt").bounding_box(), pair.locator("dd").bounding_box()
            assert label is not None and value is not None
            assert abs(label["x"] - value["x"]) < 1 and label["y"] < value["y"], (label, value)
        box, dialog = status.bounding_box(), page.locator("#detail").bounding_box()
        assert box is not None and dialog is not None
        assert box["x"] + box["width"] <= dialog["x"] + dialog["width"], (box, dialog)
    finally:
        context.close()


def test_a_request_routed_by_capability_says_why_in_its_detail(page: Any, proxy: ProxyThread) -> None:
    prefill = [{"role": "user", "content": "Reply with JSON for 2+2."}, {"role": "assistant", "content": '{"n": '}]
    response = httpx2.post(
        f"{proxy.url}/v1/messages",
        json={"model": "tiered", "max_tokens": 50, "messages": prefill},
        headers={"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    decision_id = response.headers["x-tiered-decision-id"]
    wait_for(lambda: api(proxy, "decisions", window="15m").json()["decisions"], what="the stored decision")
    sign_in(page, proxy)
    page.click(f'#decisions tbody tr[data-id="{decision_id}"]')
    expect(page.locator("#detail [data-detail=reason]")).to_have_text(
        "Not triaged (capability): prefill: claude-opus-4-7 rejects an assistant prefill; answered by claude-haiku-4-5"
    )
