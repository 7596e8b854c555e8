"""The dashboard's page and JSON endpoints over loopback HTTP: who may see what, the figures, and grading."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
import sqlalchemy as sa

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server import auth
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, load_pepper, make_engine
from tiered.store.grades import list_grades
from tiered.store.schema import decisions

from ._helpers import ADMIN_KEY, api, ask, wait_for
from .conftest import dashboard_settings


def engine_of(proxy: ProxyThread) -> sa.Engine:
    assert proxy.services is not None and proxy.services.engine is not None
    return proxy.services.engine


def stored(proxy: ProxyThread, n: int) -> None:
    def count() -> bool:
        with engine_of(proxy).connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one() >= n

    wait_for(count, what=f"{n} decisions in the store")


def test_page_and_assets_hold_no_data(proxy: ProxyThread) -> None:
    page = httpx2.get(f"{proxy.url}/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "http" not in page.text.replace("http-equiv", "")  # no external resource
    script = httpx2.get(f"{proxy.url}/dashboard/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    for name in ("nope.js", "..%2Fapp.py", "app.py", "index.HTML"):
        assert httpx2.get(f"{proxy.url}/dashboard/static/{name}").status_code == 404
    assert httpx2.get(f"{proxy.url}/dashboard/", follow_redirects=False).status_code == 308


def test_figures_match_the_calls_sent(proxy: ProxyThread) -> None:
    sent = [
        ask(proxy, f"[[fake haiku:confidence={c}]] question {i}") for i, c in enumerate([0.95, 0.9, 0.3, 0.85, 0.2])
    ]
    stored(proxy, len(sent))
    with engine_of(proxy).connect() as conn:
        rows = conn.execute(sa.select(decisions.c.cost_usd, decisions.c.counterfactual_cost_usd)).all()
    o = api(proxy, "overview", window="15m").json()
    assert (o["calls"], o["escalated_calls"], o["shipped_calls"]) == (5, 2, 3)
    assert o["escalation_rate"] == pytest.approx(0.4)
    assert sum(r.headers["x-tiered-escalated"] == "true" for r in sent) == 2
    assert o["cost"]["actual_usd"] == pytest.approx(sum(float(r.headers["x-tiered-cost-usd"]) for r in sent), abs=1e-7)
    assert o["cost"]["counterfactual_usd"] == pytest.approx(sum(cf for _, cf in rows))
    assert o["cost"]["savings_usd"] == pytest.approx(sum(cf - c for c, cf in rows))
    shipped = {round(b["low"], 2): b["shipped"] for b in o["histogram"] if b["calls"]}
    assert shipped == {0.95: 1, 0.9: 1, 0.85: 1, 0.3: 0, 0.2: 0}
    points = api(proxy, "series", window="15m").json()["points"]
    assert sum(p["calls"] for p in points) == 5 and len(points) in (30, 31)
    listed = api(proxy, "decisions", window="15m", limit=3).json()["decisions"]
    assert [d["id"] for d in listed] == [r.headers["x-tiered-decision-id"] for r in reversed(sent)][:3]
    detail = api(proxy, f"decisions/{sent[2].headers['x-tiered-decision-id']}").json()
    assert [a["model"] for a in detail["attempts"]] == ["claude-haiku-4-5", "claude-opus-4-7"]
    quality = api(proxy, "quality", window="15m", route="default").json()
    assert quality["threshold"] == 0.8 and quality["target"] == 0.05 and quality["false_confident"] is None


def test_bad_parameters(proxy: ProxyThread) -> None:
    assert api(proxy, "overview", window="1 week").status_code == 400
    assert "window" in api(proxy, "overview", window="1 week").json()["error"]["message"]
    assert api(proxy, "decisions", limit="0").status_code == 400
    assert api(proxy, "decisions", before="yesterday").status_code == 400
    assert api(proxy, "overview", route="a b").status_code == 400
    assert api(proxy, "decisions/dec_unknown").status_code == 404


def test_grading_records_a_human_grade(proxy: ProxyThread) -> None:
    shipped = ask(proxy, "[[fake haiku:confidence=0.9]] What is the capital of France?")
    decision_id = shipped.headers["x-tiered-decision-id"]
    pending = wait_for(lambda: api(proxy, "audits").json()["audits"], what="an audit sample")
    assert pending[0]["decision_id"] == decision_id
    assert "capital of France" in pending[0]["request_text"] and pending[0]["answer_text"]
    assert pending[0]["request"].startswith("[user]\n[[fake haiku:confidence=0.9]] What is the capital of France?")
    assert api(proxy, f"decisions/{decision_id}").json()["request"] == pending[0]["request"]

    url = f"{proxy.url}/v1/tiered/dashboard/audits/{decision_id}/grade"
    client_key = {"x-api-key": "client-key-1"}
    assert httpx2.post(url, json={"verdict": "incorrect"}, headers=client_key).status_code == 403
    bad = httpx2.post(url, json={"verdict": "meh"}, headers={"x-api-key": ADMIN_KEY})
    assert bad.status_code == 400 and "verdict" in bad.json()["error"]["message"]
    done = httpx2.post(url, json={"verdict": "incorrect", "grader_kind": "app"}, headers={"x-api-key": ADMIN_KEY})
    assert done.status_code == 200, done.text
    (grade,) = list_grades(engine_of(proxy), decision_id)
    assert (grade.verdict, grade.grader_kind, grade.grader) == ("incorrect", "human", "admin")
    assert api(proxy, "audits").json()["audits"] == []
    fc = api(proxy, "quality", window="15m").json()["false_confident"]
    assert (fc["n"], fc["wrong"], fc["rate"]) == (1, 1, 1.0)

    # undone: by an admin only, the grade is gone and the sample waits again; a second undo finds nothing
    assert httpx2.delete(url, headers=client_key).status_code == 403
    undone = httpx2.delete(url, headers={"x-api-key": ADMIN_KEY})
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone"]["verdict"] == "incorrect" and undone.json()["remaining_grades"] == 0
    assert list_grades(engine_of(proxy), decision_id) == []
    assert [a["decision_id"] for a in api(proxy, "audits").json()["audits"]] == [decision_id]
    again = httpx2.delete(url, headers={"x-api-key": ADMIN_KEY})
    assert again.status_code == 404 and again.json()["error"]["type"] == "not_found_error"
    bad_confirm = httpx2.post(url, json={"verdict": "correct", "confirm_move": "yes"}, headers={"x-api-key": ADMIN_KEY})
    assert bad_confirm.status_code == 400 and "confirm_move" in bad_confirm.json()["error"]["message"]


def test_passthrough_without_admin_key_sees_its_own_calls(upstream: FakeUpstream) -> None:
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "TIERED_JUDGE__ENABLED": "off"})
    with ProxyThread(settings) as proxy:
        mine = ask(proxy, "[[fake confidence=0.9]] mine", key="key-a")
        theirs = ask(proxy, "[[fake confidence=0.9]] theirs", key="key-b")
        ask(proxy, "[[fake haiku:confidence=0.1]] theirs too", key="key-b")
        stored(proxy, 3)
        session = api(proxy, "session", key="key-a").json()
        assert session["admin"] is False and session["scope"] == "key"
        assert api(proxy, "overview", key="key-a").json()["calls"] == 1
        assert api(proxy, "overview", key="key-b").json()["calls"] == 2
        assert [d["id"] for d in api(proxy, "decisions", key="key-a").json()["decisions"]] == [
            mine.headers["x-tiered-decision-id"]
        ]
        assert api(proxy, f"decisions/{theirs.headers['x-tiered-decision-id']}", key="key-a").status_code == 404
        assert api(proxy, "audits", key="key-a").status_code == 403
        assert api(proxy, "overview").status_code == 200  # any key will do: ADMIN_KEY is just another key here
        assert httpx2.get(f"{proxy.url}/v1/tiered/dashboard/overview").status_code == 401


def test_passthrough_with_admin_key_needs_it(proxy: ProxyThread) -> None:
    denied = api(proxy, "session", key="client-key-1")
    assert denied.status_code == 403 and "server.admin_key" in denied.json()["error"]["message"]
    assert api(proxy, "session").json()["admin"] is True


@pytest.fixture
def keyed(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ProxyThread, KeyStore]]:
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-ant-fake-000000"})
    from tiered.config import tiered_home

    with ProxyThread(settings) as proxy:
        engine = make_engine(default_database_url(settings))
        yield proxy, KeyStore(engine, load_pepper(tiered_home()))
        engine.dispose()


def test_keys_mode_needs_an_admin_key(keyed: tuple[ProxyThread, KeyStore]) -> None:
    proxy, keys = keyed
    _, user = keys.create("app")
    _, admin = keys.create("ops", admin=True)
    refused = api(proxy, "session", key=user)
    assert refused.status_code == 403 and "--admin" in refused.json()["error"]["message"]
    assert api(proxy, "session", key="tk-nonsense").status_code == 401
    session = api(proxy, "session", key=admin).json()
    assert session["admin"] is True and session["auth_mode"] == "keys" and session["scope"] == "all"


def test_without_a_store(upstream: FakeUpstream) -> None:
    with ProxyThread(dashboard_settings(upstream), use_store=False) as proxy:
        response = api(proxy, "overview")
        assert response.status_code == 503 and "store" in response.json()["error"]["message"]
        assert api(proxy, "session").json()["store"] is False
