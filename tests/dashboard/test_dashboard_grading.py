"""Grading on the page, in a real browser: the keys are those of ``tiered grade``, a grade can be undone, and a
stray key cannot move a threshold for everyone (a verdict that would move one needs a click to confirm it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.quality.grade_command import KEYS, parse_verdict_line
from tiered.server.thread import ProxyThread
from tiered.store.grades import list_grades, record_grade

from ._helpers import api, ask, store_decisions, wait_for
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
