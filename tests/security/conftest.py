"""One fake upstream and one proxy in front of it, shared by a module's tests, both on loopback.

The proxy runs in pass-through mode with no decision store (these tests look at what goes over the wire),
with an admin key configured (so the admin-key comparison sees hostile headers too), a small body limit (so
oversized bodies are cheap to send) and an extra route whose first tier triages with the forced
``tiered_triage`` tool instead of structured outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.security._sec_helpers import ADMIN_KEY, BODY_LIMIT

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread


@pytest.fixture(scope="module")
def proxy(fake: FakeUpstream) -> Iterator[ProxyThread]:
    tool_route = [{"model": "claude-haiku-4-5", "triage": "tool"}, "claude-opus-4-7"]
    settings = load_settings(
        environ={
            "ANTHROPIC_BASE_URL": fake.url,
            "TIERED_SERVER__ADMIN_KEY": ADMIN_KEY,
            "TIERED_SERVER__MAX_BODY_BYTES": str(BODY_LIMIT),
            "TIERED_ROUTES__TOOLTRIAGE__TIERS": json.dumps(tool_route),
            # a failing final call is reported at once: retries are the provider tests' business
            "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0",
            # these tests attack the triage: every request must get one, however rarely the triages ship
            # (the expected-cost rule of tiered.economics would stop triaging a route that never ships)
            "TIERED_ROUTES__DEFAULT__TRIAGE_WHEN": "always",
            "TIERED_ROUTES__TOOLTRIAGE__TRIAGE_WHEN": "always",
        }
    )
    with ProxyThread(settings, use_store=False) as running:
        yield running
    assert running.error is None, f"the proxy thread died: {running.error!r}"
