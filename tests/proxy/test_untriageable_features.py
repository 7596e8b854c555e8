"""Issue #16 items 5 and 9 through the proxy, with the official SDK, against the strict fake: a request with a
feature no triage may carry (citations on a document, remote MCP servers, a server tool, context management)
is never triaged: one upstream call, answered directly by the tier the route picks, with reason ``capability``
and the feature named in ``x-tiered-reason-detail``. Before the capability routing each was triaged: the
citations request got a triage format the API refuses with citations (a 400), the MCP servers ran twice, the
web search was disabled during the triage, context editing went to a model that may not take it."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-1234"
ASK = "[[fake confidence=0.95 answer=Blue.]] What colour is the sky?"
DOCUMENT: dict[str, Any] = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
    "citations": {"enabled": True},
}
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "citations": (
        {"messages": [{"role": "user", "content": [DOCUMENT, {"type": "text", "text": ASK}]}]},
        "citations",
    ),
    "mcp_servers": (
        {"extra_body": {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com/sse", "name": "x"}]}},
        "mcp_servers",
    ),
    "web_search": ({"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]}, "server_tool"),
    "context_management": ({"extra_body": {"context_management": {"edits": []}}}, "context_management"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_feature_no_triage_may_carry_is_answered_directly(
    case: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    extra, feature = CASES[case]
    kwargs: dict[str, Any] = {"messages": [{"role": "user", "content": ASK}], **extra}
    client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(model="tiered", max_tokens=100, **kwargs)
    assert raw.parse().content
    assert raw.headers["x-tiered-reason"] == "capability", raw.headers
    assert raw.headers["x-tiered-reason-detail"].startswith(f"{feature}: ")
    (call,) = [r for r in upstream.requests if r.path == "/v1/messages"]  # no triage call
    assert "output_config" not in call.body and call.body["model"] == raw.headers["x-tiered-model"]
