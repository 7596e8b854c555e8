"""The page writes money and percentages as the CLI and the report do: format.js against tiered.formatting, in
a real browser, and figures shown together on one precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store._store_helpers import make_decision
from tiered.formatting import money, percent, shared_money_digits
from tiered.server.thread import ProxyThread

from ._helpers import store_decisions
from .test_dashboard_browser import expect, kpi, sign_in

AMOUNTS = [
    0.0,
    0.00004,
    -0.0000004,
    0.000123456,
    -0.0013,
    -0.0002,
    0.0099999,
    0.01,
    0.3333333,
    0.9917,
    0.99996,
    1.0,
    1.23,
    -1.235,
    9.999,
    12.3456,
    99.996,
    100.0,
    1234.5,
    -98765.4321,
    1e-9,
    -1e-9,
]


def test_format_js_writes_money_as_tiered_formatting(page: Any, proxy: ProxyThread) -> None:
    page.goto(f"{proxy.url}/dashboard")
    shown = page.evaluate(
        """async ([amounts, digits]) => {
            const f = await import("/dashboard/static/format.js");
            return {
                own: amounts.map((v) => f.money(v)),
                fixed: digits.map((d) => amounts.map((v) => f.money(v, d))),
                shared: f.sharedDigits(amounts.slice(8, 12)),
                pct: [0.351, 0.0005, 1].map((x) => f.pct(x)),
            };
        }""",
        [AMOUNTS, [0, 2, 4, 6]],
    )
    assert shown["own"] == [money(v) for v in AMOUNTS]
    assert shown["fixed"] == [[money(v, digits=d) for v in AMOUNTS] for d in (0, 2, 4, 6)]
    assert shown["shared"] == shared_money_digits(AMOUNTS[8:12]) == 2
    assert shown["pct"] == [percent(x) for x in (0.351, 0.0005, 1)]


def test_cost_figures_share_one_precision(page: Any, proxy: ProxyThread) -> None:
    assert proxy.services is not None and proxy.services.engine is not None
    at = datetime.now(UTC) - timedelta(minutes=2)
    store_decisions(
        proxy.services.engine,
        [
            make_decision("big", "shipped", cost=1.20, counterfactual=1.70, created_at=at),
            make_decision("small", "escalated", cost=0.0100, counterfactual=0.0042, created_at=at),
        ],
    )
    sign_in(page, proxy)
    expect(kpi(page, "actual")).to_have_text("$1.21")
    expect(kpi(page, "counterfactual")).to_have_text("$1.70")
    expect(kpi(page, "savings")).to_have_text("$0.49")  # not $0.4942 beside $1.21
    row = page.locator('#decisions tbody tr[data-id="small"] td.num')
    expect(row.nth(2)).to_have_text("$0.01")  # the column's precision: $1.20 is in it
    expect(row.nth(3)).to_have_text("$0.004200")  # rounds to zero at it: its own precision
