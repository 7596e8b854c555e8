"""The dashboard in a real headless browser (Debian's chromium through Playwright): the figures on the page are
those of the calls the test sent through the proxy, and a verdict given on the page lands in the store and in
the false-confident rate."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tiered.formatting import shared_money_digits
from tiered.server.thread import ProxyThread
from tiered.store.grades import list_grades
from tiered.store.schema import decisions

from ._helpers import ADMIN_KEY, api, ask, assert_money, wait_for


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def sign_in(page: Any, proxy: ProxyThread, *, key: str = ADMIN_KEY, view: str = "") -> None:
    # refresh every second, so the test does not wait for the default five
    page.goto(f"{proxy.url}/dashboard#window=15m&refresh=1{'&view=' + view if view else ''}")
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")


def kpi(page: Any, name: str) -> Any:
    return page.locator(f'[data-kpi="{name}"]')


def stored_rows(proxy: ProxyThread, n: int) -> list[Any]:
    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine

    def rows() -> list[Any]:
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(decisions.c.id, decisions.c.cost_usd, decisions.c.counterfactual_cost_usd)
            ).all()
        return found if len(found) >= n else []

    result: list[Any] = wait_for(rows, what=f"{n} stored decisions")
    return result


def test_numbers_on_the_page_match_the_calls(page: Any, proxy: ProxyThread) -> None:
    confidences = [0.97, 0.91, 0.88, 0.3, 0.82, 0.45, 0.95, 0.1]
    sent = [ask(proxy, f"[[fake haiku:confidence={c}]] question {i}") for i, c in enumerate(confidences)]
    rows = stored_rows(proxy, len(sent))
    escalated = [r for r in sent if r.headers["x-tiered-escalated"] == "true"]
    assert len(escalated) == 3
    actual = sum(r.cost_usd for r in rows)
    counterfactual = sum(r.counterfactual_cost_usd for r in rows)

    sign_in(page, proxy)
    expect(kpi(page, "calls")).to_have_text("8")
    expect(kpi(page, "escalation")).to_have_text("37.5%")
    expect(kpi(page, "escalation-sub")).to_have_text("3 escalated · 5 shipped")
    shared = shared_money_digits([actual, counterfactual, counterfactual - actual])
    assert_money(kpi(page, "actual").inner_text(), actual, shared)
    assert_money(kpi(page, "counterfactual").inner_text(), counterfactual, shared)
    assert_money(kpi(page, "savings").inner_text(), counterfactual - actual, shared)
    expect(kpi(page, "threshold")).to_have_text("0.80")
    expect(page.locator("#chart-confidence svg")).to_have_attribute(
        "aria-label", "Confidence histogram of first-tier triage answers; threshold 0.80"
    )
    expect(
        page.locator(
            "#chart-escalation svg path.line-rate, #chart-escalation svg circle.dot-rate, #chart-escalation svg circle.dot-partial"
        ).first
    ).to_be_attached()

    table = page.locator("#decisions tbody tr")
    expect(table).to_have_count(8)
    newest_first = [r.headers["x-tiered-decision-id"] for r in reversed(sent)]
    assert [table.nth(i).get_attribute("data-id") for i in range(8)] == newest_first
    # drill into an escalated call: both attempts, with their confidences, tokens and costs
    hard = sent[3].headers["x-tiered-decision-id"]
    page.click(f'#decisions tbody tr[data-id="{hard}"]')
    attempts = page.locator("#detail [data-detail=attempts] tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("claude-haiku-4-5")
    expect(attempts.nth(0)).to_contain_text("0.30")
    expect(attempts.nth(0)).to_contain_text("low_confidence")
    expect(attempts.nth(1)).to_contain_text("claude-opus-4-7")
    detail = api(proxy, f"decisions/{hard}").json()
    figures = [detail["cost_usd"], detail["counterfactual_cost_usd"], detail["savings_usd"]]
    assert_money(page.locator("#detail dd").nth(7).inner_text(), detail["cost_usd"], shared_money_digits(figures))
    page.click("#detail-close")

    # another route has none of these calls
    page.select_option("#route", "three-tier")
    expect(kpi(page, "calls")).to_have_text("0")
    expect(page.locator("#decisions tbody")).to_contain_text("No decisions in this window.")
    assert "route=three-tier" in page.url


def test_a_grade_given_on_the_page(page: Any, proxy: ProxyThread) -> None:
    shipped = ask(proxy, "[[fake haiku:confidence=0.9]] What is the boiling point of water at sea level?")
    ask(proxy, "[[fake haiku:confidence=0.2]] Prove the Riemann hypothesis.")
    decision_id = shipped.headers["x-tiered-decision-id"]
    wait_for(lambda: api(proxy, "audits").json()["audits"], what="the audit sample")

    sign_in(page, proxy, view="grading")
    expect(page.locator("#pending-count")).to_have_text("1")
    card = page.locator(f'.audit[data-id="{decision_id}"]')
    expect(card).to_contain_text("boiling point of water")  # the request, beside the answer
    expect(card.locator("pre.text")).to_have_count(2)
    card.locator("input[aria-label=reason]").fill("the answer is filler")
    card.locator('button[data-verdict="incorrect"]').click()
    expect(card).to_have_count(0)
    expect(page.locator("#audits")).to_contain_text("Nothing waiting")

    assert proxy.services is not None and proxy.services.engine is not None
    (grade,) = wait_for(lambda: list_grades(proxy.services.engine, decision_id), what="the grade")  # type: ignore[union-attr]
    assert (grade.verdict, grade.grader_kind, grade.grader, grade.reason) == (
        "incorrect",
        "human",
        "admin",
        "the answer is filler",
    )

    page.click('button[data-view="overview"]')
    expect(kpi(page, "false-confident")).to_have_text("100.0%")
    expect(kpi(page, "false-confident-sub")).to_contain_text("1 graded")
    expect(page.locator('[data-quality="rate"]')).to_have_text("100.0%")
    expect(page.locator(f'#decisions tbody tr[data-id="{decision_id}"]')).to_contain_text("incorrect")


def test_sign_in_is_refused_with_the_reason(page: Any, proxy: ProxyThread) -> None:
    sign_in(page, proxy, key="an-ordinary-client-key")
    expect(page.locator("#login-error")).to_contain_text("server.admin_key")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0  # a refused key is not kept
    page.fill("#login-key", ADMIN_KEY)
    page.click("#login-form button[type=submit]")
    expect(kpi(page, "calls")).to_have_text("0")
    page.reload()  # the key survives a reload of the tab
    expect(kpi(page, "calls")).to_have_text("0")
    page.click("#signout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
