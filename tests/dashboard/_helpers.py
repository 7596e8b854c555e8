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


def money(v: float) -> str:
    """The page's money format (format.js)."""
    a = abs(v)
    if a >= 100:
        text = f"{round(a):,}"
    elif a >= 1:
        text = f"{a:.2f}"
    elif a >= 0.01 or a == 0:
        text = f"{a:.4f}"
    else:
        text = f"{a:.6f}"
    return f"{'-' if v < 0 else ''}${text}"


def assert_money(shown: str, expected: float) -> None:
    """``shown`` is ``expected`` written as the page writes money (to the last digit it shows)."""
    assert shown.lstrip("-").startswith("$"), shown
    number = float(shown.replace("$", "").replace(",", ""))
    digits = len(shown.split(".")[1]) if "." in shown else 0
    assert abs(number - expected) <= 0.5 * 10**-digits + 1e-12, (shown, expected)
    assert digits == (len(money(expected).split(".")[1]) if "." in money(expected) else 0), (shown, expected)


def store_decisions(engine: Any, decisions: Sequence[Decision]) -> None:
    """Write ``decisions`` straight into a store (as the proxy's writer would), e.g. to place them in the past."""
    from tiered.store.records import insert_records, to_record

    with engine.begin() as conn:
        insert_records(conn, [to_record(d, None, timedelta(days=30)) for d in decisions])
