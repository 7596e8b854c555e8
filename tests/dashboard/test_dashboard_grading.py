"""Grading on the page, in a real browser: the keys are those of ``tiered grade``, a grade can be undone, and a
stray key cannot move a threshold for everyone (a verdict that would move one needs a click to confirm it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.fake_upstream import FakeUpstream
from tiered.quality.grade_command import KEYS, parse_verdict_line
from tiered.server.thread import ProxyThread
from tiered.store.grades import list_grades, record_grade

from ._helpers import ADMIN_KEY, api, ask, store_decisions, wait_for
from .conftest import dashboard_settings
from .test_dashboard_browser import expect, sign_in


def test_the_page_grades_with_the_keys_of_tiered_grade(page: Any, proxy: ProxyThread) -> None:
    page.goto(f"{proxy.url}/dashboard")
    keys = page.evaluate(
        """async () => {
            const g = await import("/dashboard/static/grading.js");
            const f = await import("/dashboard/static/format.js");
            return { verdicts: Object.fromEntries(g.VERDICTS.map(([v, , k]) => [k, v])), skip: g.SKIP_KEY,
                     note: f.weightNote(0.05), none: f.weightNote(1) };
        }"""
    )
    assert keys["verdicts"] == KEYS
    assert parse_verdict_line(keys["skip"]) == ("skip", None)
    assert "audited 20× as often" in keys["note"] and "counts as 0.05 of an answer" in keys["note"]
    assert keys["none"] == ""


def pending_card(page: Any, proxy: ProxyThread, text: str) -> tuple[str, Any]:
    decision_id = ask(proxy, f"[[fake haiku:confidence=0.9]] {text}").headers["x-tiered-decision-id"]
    wait_for(lambda: api(proxy, "audits").json()["audits"], what="the audit sample")
    sign_in(page, proxy, view="grading")
    card = page.locator(f'.audit[data-id="{decision_id}"]')
    expect(card).to_have_count(1)
    return decision_id, card


def test_a_grade_is_undone_with_z(page: Any, proxy: ProxyThread) -> None:
    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine
    decision_id, card = pending_card(page, proxy, "What is the boiling point of water at sea level?")
    page.keyboard.press("w")
    expect(card).to_have_count(0)
    graded = page.locator(f'#graded [data-id="{decision_id}"]')
    expect(graded).to_contain_text("Graded Wrong")
    wait_for(lambda: list_grades(engine, decision_id), what="the grade")
    page.keyboard.press("z")
    expect(graded).to_have_count(0)
    expect(page.locator(f'.audit[data-id="{decision_id}"]')).to_have_count(1)  # waiting for a verdict again
    assert list_grades(engine, decision_id) == []


def test_a_stray_key_cannot_move_a_threshold(page: Any, proxy: ProxyThread) -> None:
    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine
    # 29 right answers graded at the threshold in force: one wrong more is enough evidence to raise it
    at = datetime.now(UTC) - timedelta(minutes=1)
    store_decisions(engine, [make_decision(f"ok{i}", "shipped", created_at=at) for i in range(29)])
    for i in range(29):
        record_grade(engine, f"ok{i}", "correct", "human", grader="someone")
    decision_id, card = pending_card(page, proxy, "What is the capital of Australia?")

    page.keyboard.press("w")  # a stray key
    confirm = card.locator(".confirm")
    expect(confirm).to_contain_text("would make the threshold controller raise route default's threshold 0.80 → 0.85")
    assert list_grades(engine, decision_id) == []  # nothing recorded
    page.keyboard.press("w")  # another key does not confirm it either
    page.keyboard.press("c")
    expect(confirm).to_be_visible()
    assert list_grades(engine, decision_id) == []
    assert api(proxy, "quality", route="default").json()["threshold"] == 0.8

    confirm.locator('[data-confirm="keep"]').click()  # a deliberate click records it
    expect(card).to_have_count(0)
    expect(page.locator(f'#graded [data-id="{decision_id}"]')).to_contain_text("raise route default's threshold")
    (grade,) = wait_for(lambda: list_grades(engine, decision_id), what="the confirmed grade")
    assert grade.verdict.value == "incorrect" and grade.grader_kind.value == "human"


def test_only_a_move_the_grade_brings_about_needs_confirming(upstream: FakeUpstream) -> None:
    # the controller runs at start and then not again for an hour: the raise stays called for, not made
    settings = dashboard_settings(upstream, TIERED_QUALITY__CONTROLLER_INTERVAL_S="3600")
    with ProxyThread(settings) as proxy:
        confirm_only_new_moves(proxy)


def confirm_only_new_moves(proxy: ProxyThread) -> None:
    import httpx2

    assert proxy.services is not None and proxy.services.engine is not None
    engine = proxy.services.engine
    at = datetime.now(UTC) - timedelta(minutes=1)
    store_decisions(engine, [make_decision(f"ok{i}", "shipped", created_at=at) for i in range(29)])
    for i in range(29):
        record_grade(engine, f"ok{i}", "correct", "human", grader="someone")
    first, second = (
        ask(proxy, f"[[fake haiku:confidence=0.9]] question {i}").headers["x-tiered-decision-id"] for i in (1, 2)
    )
    wait_for(lambda: len(api(proxy, "audits").json()["audits"]) == 2, what="two audit samples")

    def grade(decision_id: str, verdict: str, **extra: object) -> dict[str, object]:
        url = f"{proxy.url}/v1/tiered/dashboard/audits/{decision_id}/grade"
        response = httpx2.post(url, json={"verdict": verdict, **extra}, headers={"x-api-key": ADMIN_KEY})
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    move = {"route": "default", "action": "raise", "old": 0.8, "new": 0.85}
    assert grade(first, "incorrect") == {"grade": None, "needs_confirmation": move}
    assert list_grades(engine, first) == []
    confirmed = grade(first, "incorrect", confirm_move=True)
    assert confirmed["threshold_move"] == move and list_grades(engine, first)
    # the controller has not run yet: the raise is already called for, so a second grade does not bring it about
    later = grade(second, "correct")
    assert later["grade"] is not None and later["threshold_move"] == move


def test_s_skips_to_the_next_sample(page: Any, proxy: ProxyThread) -> None:
    ids = [ask(proxy, f"[[fake haiku:confidence=0.9]] question {i}").headers["x-tiered-decision-id"] for i in (1, 2)]
    wait_for(lambda: len(api(proxy, "audits").json()["audits"]) == 2, what="two audit samples")
    sign_in(page, proxy, view="grading")
    cards = page.locator("#audits .audit")
    expect(cards).to_have_count(2)
    first = cards.first.get_attribute("data-id")
    page.keyboard.press("s")
    expect(cards.first).not_to_have_attribute("data-id", first or "")
    page.keyboard.press("c")  # grades the sample now first, not the skipped one
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-id", first or "")
    assert sorted(ids) == sorted([first, page.locator("#graded [data-id]").first.get_attribute("data-id")])
