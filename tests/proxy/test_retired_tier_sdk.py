"""Issue #16 item 10 through the official SDK: a route whose cheap tier names a retired model (Claude Sonnet 4,
retired 2026-06-15). Every request is answered by the final tier, ``/readyz`` names the retired model, and a
triage's 404 escalates that request (``cheap_tier_rejected``) without ever opening the circuit.

Claude Sonnet 4 has no structured outputs, so with the default structured triage it cannot run a triage at all:
each request used to go straight to it (the cheapest tier that takes the request) and its 404 reached the
caller. With a forced-tool triage (which it can run) each triage is tried and fails with 404."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from .helpers import proxy_settings

KEY = "sk-ant-retired-tier-tests"
RETIRED = "claude-sonnet-4-0"


@pytest.mark.parametrize(
    ("cheap", "reason", "calls"),
    [(RETIRED, "capability", 0), ({"model": RETIRED, "triage": "tool"}, "cheap_tier_rejected", 8)],
)
def test_a_retired_cheap_tier_never_fails_a_request(
    upstream: FakeUpstream, cheap: Any, reason: str, calls: int
) -> None:
    # a Sonnet triage of a 50-token answer costs more than Opus answering it (tiered.economics): triage anyway
    tiers = json.dumps([cheap, "claude-opus-4-7"])
    settings = proxy_settings(
        upstream, TIERED_ROUTES__DEFAULT__TIERS=tiers, TIERED_ROUTES__DEFAULT__TRIAGE_WHEN="always"
    )
    with ProxyThread(settings, use_store=False) as proxy:
        client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
        for n in range(8):  # more than the breaker's five failures in a row
            raw = client.messages.with_raw_response.create(
                model="tiered", max_tokens=50, messages=[{"role": "user", "content": f"question {n}"}]
            )
            assert raw.parse().content
            assert raw.headers["x-tiered-model"] == "claude-opus-4-7"
            assert raw.headers["x-tiered-reason"] == reason
        ready = httpx2.get(proxy.url + "/readyz").json()
    triages = [r for r in upstream.requests if r.path == "/v1/messages" and r.body["model"] == RETIRED]
    assert len(triages) == calls  # with a triage it can run: tried every time, the circuit never opened
    assert (RETIRED, "retired") in [(p["model"], p["kind"]) for p in ready["models"]]
