"""Issue #16 item 7 (server-tool usage is priced) through the proxy and the official SDK: a request with the web
search tool is answered directly (never triaged, see tiered.cascade.fit), the upstream reports two searches in
``usage.server_tool_use``, and the decision's cost includes them at genai-prices' rate ($10 per 1,000)."""

from __future__ import annotations

import dataclasses
import time

import anthropic
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.pricing import default_price_book
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-1234"


def test_web_searches_are_priced(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="tiered",
        max_tokens=100,
        messages=[{"role": "user", "content": "[[fake web_searches=2 answer=Sunny.]] Weather in Paris today?"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
    )
    message = raw.parse()
    assert message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 2
    assert raw.headers["x-tiered-reason"] == "capability"
    decision_id = raw.headers["x-tiered-decision-id"]
    for _ in range(200):  # recorded as the response ends: poll a bounded number of times
        decision = proxy.decisions().get(decision_id)
        if decision is not None:
            break
        time.sleep(0.02)
    assert decision is not None
    (attempt,) = decision.attempts
    assert attempt.usage.web_search_requests == 2
    prices = default_price_book()
    without = prices.cost(attempt.model, dataclasses.replace(attempt.usage, web_search_requests=0))
    assert attempt.cost_usd is not None and without is not None
    assert attempt.cost_usd - without == pytest.approx(2 * 10 / 1_000)
