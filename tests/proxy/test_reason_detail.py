"""Why a request skipped triage, shown everywhere a decision is: the ``x-tiered-reason-detail`` header (JSON
and stream), ``GET /v1/tiered/decisions/{id}`` read back from the decision store, through the official SDK
against the strict fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread
from tiered.store import default_database_url, make_engine, upgrade

KEY = "sk-ant-client-key-1234"
ADMIN = "sk-admin-reason-detail-0000000000000"
PREFILL: list[Any] = [
    {"role": "user", "content": '[[fake answer="4}"]] Reply with JSON {"n": ...} for 2+2.'},
    {"role": "assistant", "content": '{"n": '},
]
DETAIL = "prefill: claude-opus-4-7 rejects an assistant prefill; answered by claude-haiku-4-5"


@pytest.fixture
def stored(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    """A proxy that keeps no decision in memory: the decision endpoint reads the store."""
    settings = load_settings(
        environ={
            "ANTHROPIC_BASE_URL": upstream.url,
            "TIERED_SERVER__RECENT_DECISIONS": "0",
            "TIERED_SERVER__ADMIN_KEY": ADMIN,
        }
    )
    engine = make_engine(default_database_url(settings))
    upgrade(engine)
    engine.dispose()
    with ProxyThread(settings) as running:
        yield running


def _client(proxy: ProxyThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


def _stored_decision(proxy: ProxyThread, decision_id: str) -> dict[str, Any]:
    for _ in range(200):  # the writer is off the hot path: poll (not timed: a bound on attempts)
        response = httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers={"x-api-key": ADMIN})
        if response.status_code == 200:
            found: dict[str, Any] = response.json()
            return found
        time.sleep(0.05)
    raise AssertionError(f"decision {decision_id} never reached the store")


def test_the_detail_is_a_header_and_in_the_stored_decision(stored: ProxyThread) -> None:
    raw = _client(stored).messages.with_raw_response.create(model="tiered", max_tokens=200, messages=PREFILL)
    assert raw.parse().content
    assert raw.headers["x-tiered-reason"] == "capability"
    assert raw.headers["x-tiered-reason-detail"] == DETAIL
    decision = _stored_decision(stored, raw.headers["x-tiered-decision-id"])
    assert decision["reason"] == "capability" and decision["reason_detail"] == DETAIL


def test_the_detail_is_a_header_of_a_stream(stored: ProxyThread) -> None:
    with _client(stored).messages.stream(model="tiered", max_tokens=200, messages=PREFILL) as stream:
        assert stream.response.headers["x-tiered-reason-detail"] == DETAIL
        stream.get_final_message()


def test_a_triaged_request_has_no_detail_header(stored: ProxyThread) -> None:
    raw = _client(stored).messages.with_raw_response.create(
        model="tiered", max_tokens=100, messages=[{"role": "user", "content": "[[fake confidence=0.95]] hi"}]
    )
    assert raw.parse().content
    assert "x-tiered-reason-detail" not in raw.headers
    assert _stored_decision(stored, raw.headers["x-tiered-decision-id"])["reason_detail"] is None
