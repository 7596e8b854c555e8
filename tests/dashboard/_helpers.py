"""Small helpers shared by the dashboard tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2

from tiered.server.thread import ProxyThread

if TYPE_CHECKING:
    from tiered.decision import Decision

ADMIN_KEY = "adm-dashboard-test-key-0001"


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ask(proxy: ProxyThread, text: str, *, key: str = "client-key-1", route: str = "tiered") -> httpx2.Response:
    response = httpx2.post(
        f"{proxy.url}/v1/messages",
        json={"model": route, "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


def api(proxy: ProxyThread, path: str, *, key: str = ADMIN_KEY, **params: Any) -> httpx2.Response:
    return httpx2.get(f"{proxy.url}/v1/tiered/dashboard/{path}", params=params, headers={"x-api-key": key}, timeout=30)


def assert_money(shown: str, expected: float, digits: int | None = None) -> None:
    """``shown`` is ``expected`` written as tiered writes money (:func:`tiered.formatting.money`, which the
    page's format.js mirrors), with ``digits`` decimals when the figure shares a precision with others."""
    from tiered.formatting import money

    assert shown == money(expected, digits=digits), (shown, expected)


def store_decisions(engine: Any, decisions: Sequence[Decision]) -> None:
    """Write ``decisions`` straight into a store (as the proxy's writer would), e.g. to place them in the past."""
    from tiered.store.records import insert_records, to_record

    with engine.begin() as conn:
        insert_records(conn, [to_record(d, None, timedelta(days=30)) for d in decisions])
