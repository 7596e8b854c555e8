"""``/v1/models`` through the proxy, and the configured models' lifecycle (issue #16, item 10).

* The list is paginated as the real API's (``limit``, ``after_id``, ``before_id``, ``has_more``, ``first_id``,
  ``last_id``: https://platform.claude.com/docs/en/api/models-list), so the SDK's auto-pagination reads every
  model once; ``GET /v1/models/{model_id}`` answers for the routes and passes other ids upstream.
* A tier naming a retired model is an error at start-up and in ``/readyz`` (with its retirement date), an
  unknown one a warning; with a key, a configured model the upstream does not list is an error; a 404
  ``not_found_error`` on a call is a configuration alert and never counts toward the circuit breaker.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import anthropic
import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings

KEY: Final = "sk-ant-models-tests"
HEADERS: Final = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
EXTRA: Final = tuple(f"claude-extra-{n}" for n in range(7))  # served by the fake besides its built-in three


@pytest.fixture
def listing(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    upstream.scenario = Scenario(models=EXTRA)
    with ProxyThread(proxy_settings(upstream), use_store=False) as running:
        yield running


def everything(proxy: ProxyThread) -> list[str]:
    response = httpx2.get(proxy.url + "/v1/models", params={"limit": 1000}, headers=HEADERS)
    assert response.status_code == 200
    body = response.json()
    assert body["has_more"] is False
    return [m["id"] for m in body["data"]]


def test_the_sdk_pages_through_every_model_once(listing: ProxyThread, upstream: FakeUpstream) -> None:
    ids = everything(listing)
    routes = [i for i in ids if i.startswith("tiered")]
    served = [m["id"] for m in httpx2.get(upstream.url + "/v1/models", params={"limit": 1000}).json()["data"]]
    assert ids == routes + served  # the routes, then the upstream's models
    assert routes[:2] == ["tiered", "tiered/default"] and set(EXTRA) <= set(served) and len(ids) > 20
    with anthropic.Anthropic(base_url=listing.url, api_key=KEY, max_retries=0) as client:
        first = client.models.list(limit=3)
        assert [m.id for m in first.data] == ids[:3] and first.has_more and first.last_id == ids[2]
        assert [m.id for m in client.models.list(limit=3)] == ids  # auto-pagination, after_id = last_id
        assert [m.id for m in client.models.list(limit=100)] == ids


def test_pages_in_both_directions(listing: ProxyThread) -> None:
    ids = everything(listing)

    def get(**params: Any) -> dict[str, Any]:
        response = httpx2.get(listing.url + "/v1/models", params=params, headers=HEADERS)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    after = get(limit=4, after_id=ids[2])
    assert [m["id"] for m in after["data"]] == ids[3:7] and after["has_more"] is True
    assert (after["first_id"], after["last_id"]) == (ids[3], ids[6])
    before = get(limit=4, before_id=ids[7])  # the page immediately before the cursor
    assert [m["id"] for m in before["data"]] == ids[3:7] and before["has_more"] is True
    start = get(limit=4, before_id=ids[3])
    assert [m["id"] for m in start["data"]] == ids[:3] and start["has_more"] is False
    end = get(limit=4, after_id=ids[-3])
    assert [m["id"] for m in end["data"]] == ids[-2:] and end["has_more"] is False
    assert [m["id"] for m in get()["data"]] == ids[:20]  # the documented default limit is 20


def test_the_sdk_pages_backwards_from_before_id(listing: ProxyThread) -> None:
    ids = everything(listing)
    with anthropic.Anthropic(base_url=listing.url, api_key=KEY, max_retries=0) as client:
        pages = client.models.list(limit=2, before_id=ids[-1])
        seen = [[m.id for m in p.data] for p in pages.iter_pages()]
    assert seen[0] == ids[-3:-1] and [i for p in reversed(seen) for i in p] == ids[:-1]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"after_id": "nope"}, {"after_id": "tiered", "before_id": "x"}],
)
def test_bad_list_parameters_are_400(params: dict[str, Any], listing: ProxyThread) -> None:
    response = httpx2.get(listing.url + "/v1/models", params=params, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_retrieve_a_model(listing: ProxyThread) -> None:
    with anthropic.Anthropic(base_url=listing.url, api_key=KEY, max_retries=0) as client:
        assert client.models.retrieve("tiered").display_name.startswith("tiered default: ")
        assert client.models.retrieve("tiered/default").id == "tiered/default"
        assert client.models.retrieve("claude-haiku-4-5").display_name == "Claude Haiku 4.5"
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("claude-no-such-model")


# -- lifecycle ----------------------------------------------------------------------------------------------


def start(upstream: FakeUpstream, tiers: list[str], **env: str) -> ProxyThread:
    return ProxyThread(
        proxy_settings(upstream, TIERED_ROUTES__DEFAULT__TIERS=json.dumps(tiers), **env), use_store=False
    )


def readyz(proxy: ProxyThread) -> tuple[int, dict[str, Any]]:
    response = httpx2.get(proxy.url + "/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def test_a_retired_cheap_tier_is_an_error_but_the_proxy_stays_ready(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level("WARNING", logger="tiered.models"),
        start(upstream, ["claude-sonnet-4-0", "claude-opus-4-7"]) as proxy,
    ):
        status, body = readyz(proxy)
    assert status == 200 and body["checks"]["models"] is True  # the final tier still answers
    (problem,) = body["models"]
    assert problem["model"] == "claude-sonnet-4-0" and problem["kind"] == "retired" and problem["severity"] == "error"
    assert "2026-06-15" in problem["message"] and "the newest Sonnet model tiered knows is" in problem["message"]
    logged = [
        r.levelname for r in caplog.records if r.name == "tiered.models" and "claude-sonnet-4-0" in r.getMessage()
    ]
    assert logged == ["ERROR"]


def test_a_retired_final_tier_makes_the_proxy_not_ready(upstream: FakeUpstream) -> None:
    with start(upstream, ["claude-haiku-4-5", "claude-opus-4-0"]) as proxy:
        status, body = readyz(proxy)
    assert status == 503 and body["checks"]["models"] is False
    assert [(p["model"], p["kind"], p["final_tier"]) for p in body["models"]] == [("claude-opus-4-0", "retired", True)]


def test_an_unknown_model_is_a_warning(upstream: FakeUpstream) -> None:
    upstream.scenario = Scenario(models=("claude-custom-1",))
    with start(upstream, ["claude-custom-1", "claude-opus-4-7"]) as proxy:
        status, body = readyz(proxy)
    assert status == 200
    assert [(p["model"], p["kind"], p["severity"]) for p in body["models"]] == [
        ("claude-custom-1", "unknown", "warning")
    ]


def test_with_a_key_a_model_the_upstream_does_not_list_is_flagged(upstream: FakeUpstream) -> None:
    """The table says Opus 4.5 retires on 2027-01-22; an upstream already past that date (the fake's clock)
    no longer lists it."""
    env = {"TIERED_PROVIDERS__ANTHROPIC__API_KEY": "sk-ant-proxy-own", "TIERED_SERVER__ADMIN_KEY": "sk-admin-1"}
    with past_opus_4_5(upstream), start(upstream, ["claude-sonnet-4-6", "claude-opus-4-5"], **env) as proxy:
        status, body = readyz(proxy)
        listed = [r for r in upstream.requests if r.path == "/v1/models"]
    assert listed and listed[0].headers["x-api-key"] == "sk-ant-proxy-own"
    assert status == 503  # the final tier is not served
    problems = [(p["model"], p["kind"], p["severity"]) for p in body["models"]]
    assert problems == [("claude-opus-4-5", "deprecated", "warning"), ("claude-opus-4-5", "not_listed", "error")]


@contextlib.contextmanager
def past_opus_4_5(upstream: FakeUpstream) -> Iterator[None]:
    """The fake's date set past Opus 4.5's retirement (2027-01-22 in the table): it neither lists nor serves
    it, as the real API does for a retired model."""
    clock = upstream.app.cache.clock
    upstream.app.cache.clock = lambda: datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    try:
        yield
    finally:
        upstream.app.cache.clock = clock


def test_a_404_for_a_model_is_a_configuration_alert_not_a_health_failure(upstream: FakeUpstream) -> None:
    """The table says Opus 4.5 retires on 2027-01-22; an upstream that has already dropped it (the fake's date
    set past it) answers 404 ``not_found_error``, as the real API does for a retired model
    (https://platform.claude.com/docs/en/about-claude/model-deprecations: "requests to models past the
    retirement date will fail")."""
    # a cheap tier priced as the final one is never worth a triage (tiered.economics): triage it all the same
    always = {"TIERED_ROUTES__DEFAULT__TRIAGE_WHEN": "always"}
    with past_opus_4_5(upstream), start(upstream, ["claude-opus-4-5", "claude-opus-4-7"], **always) as proxy:
        for n in range(8):  # more than the breaker's five failures in a row
            response = httpx2.post(
                proxy.url + "/v1/messages",
                json={"model": "tiered", "max_tokens": 50, "messages": [{"role": "user", "content": f"q{n}"}]},
                headers=HEADERS,
            )
            assert response.status_code == 200
            assert response.headers["x-tiered-reason"] == "cheap_tier_rejected"
        upstream.wait_idle()
        triages = [r for r in upstream.requests if r.path == "/v1/messages" and r.body["model"] == "claude-opus-4-5"]
        status, body = readyz(proxy)
        fired = [a for a in proxy.app.state.quality.alerts.fired if a.kind == "model_not_found:claude-opus-4-5"]
    assert len(triages) == 8  # never skipped: a missing model says nothing about the upstream's health
    assert status == 200
    problems = [(p["model"], p["kind"], p["severity"]) for p in body["models"]]
    assert ("claude-opus-4-5", "not_found", "error") in problems
    assert ("claude-opus-4-5", "deprecated", "warning") in problems  # what the table says of it
    assert len(fired) == 1 and fired[0].severity == "critical"


def test_the_openai_sdk_retrieves_a_route(listing: ProxyThread) -> None:
    import openai

    client = openai.OpenAI(base_url=listing.url + "/v1", api_key=KEY, max_retries=0)
    assert client.models.retrieve("tiered").owned_by == "tiered"
    assert "tiered/default" in [m.id for m in client.models.list()]
