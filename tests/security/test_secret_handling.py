"""Keys mode, end to end: the upstream key and the clients' keys never show up where they could leak.

The proxy holds the upstream key; clients use virtual keys. After a mix of requests (shipped, escalated,
streamed, failing upstream, refused keys), neither secret appears in anything tiered wrote or said: the log
(every logger, DEBUG and up), response bodies and headers, the decision API, or any row of the database.
Only the pepper-keyed hash of a virtual key is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from collections.abc import Iterator
from typing import Final

import httpx2
import pytest

from tiered.config import load_settings, tiered_home
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.server import auth
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, load_pepper, make_engine, upgrade

UPSTREAM_KEY: Final = "sk-ant-api03-UPSTREAM-SECRET-4242424242424242"


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged() -> Iterator[Everything]:
    handler = Everything()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    watched = [root, logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in watched:
        logger.addHandler(handler)
    yield handler
    for logger in watched:
        logger.removeHandler(handler)
    root.setLevel(old_level)


def test_no_secret_leaves_a_trace(monkeypatch: pytest.MonkeyPatch, logged: Everything) -> None:
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)
    with FakeUpstream(Scenario(api_key=UPSTREAM_KEY)) as fake:
        settings = load_settings(
            environ={
                "ANTHROPIC_BASE_URL": fake.url,
                "ANTHROPIC_API_KEY": UPSTREAM_KEY,
                "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0",
            }
        )
        engine = make_engine(default_database_url(settings))
        upgrade(engine)
        pepper = load_pepper(tiered_home())
        keys = KeyStore(engine, pepper)
        record, client_key = keys.create("app")
        _, revoked_key = keys.create("old")
        keys.revoke(keys.list()[-1].id)
        engine.dispose()
        seen: list[str] = []
        with ProxyThread(settings) as proxy:
            headers = {"x-api-key": client_key, "anthropic-version": "2023-06-01"}
            for text, stream in [
                ("[[fake haiku:confidence=0.95]] easy", False),
                ("[[fake haiku:confidence=0.1]] hard", False),
                ("[[fake haiku:confidence=0.1]] hard", True),
                ("[[fake haiku:confidence=0.1 opus:fault=rate_limit opus:retry_after=90]] failing", False),
                ("[[fake haiku:fault=api_error opus:fault=overloaded opus:retry_after=90]] both failing", True),
            ]:
                body = {
                    "model": "tiered",
                    "max_tokens": 50,
                    "stream": stream,
                    "messages": [{"role": "user", "content": text}],
                }
                response = httpx2.post(proxy.url + "/v1/messages", json=body, headers=headers, timeout=30)
                seen.append(response.text + str(dict(response.headers)))
                decision_id = response.headers.get("x-tiered-decision-id")
                if decision_id:
                    lookup = httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers=headers, timeout=10)
                    assert lookup.status_code == 200, lookup.text
                    seen.append(lookup.text)
            for bad in (revoked_key, UPSTREAM_KEY, client_key + "x"):
                refused = httpx2.post(
                    proxy.url + "/v1/messages", json=body, headers={**headers, "x-api-key": bad}, timeout=10
                )
                assert refused.status_code == 401
                seen.append(refused.text + str(dict(refused.headers)))
        fake.wait_idle()
        # the upstream got the proxy's key, never a client's
        assert {r.headers.get("x-api-key") for r in fake.requests} == {UPSTREAM_KEY}

    db = tiered_home() / "tiered.db"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
        (stored_hash,) = conn.execute("SELECT secret_hash FROM virtual_keys WHERE id = ?", (record.id,)).fetchone()
    assert stored_hash == hmac.new(pepper, client_key.encode(), hashlib.sha256).hexdigest()
    assert dump.count('INSERT INTO "decisions"') >= 5
    places = {"log": "\n".join(logged.lines), "responses": "\n".join(seen), "database": dump}
    for secret in (UPSTREAM_KEY, client_key, revoked_key):
        for place, text in places.items():
            assert secret not in text, f"a secret leaked into the {place}"
    # the part a user sees in listings is a short prefix, not enough to use the key
    assert client_key[: len("tk-") + 8] in dump
    assert client_key[: len("tk-") + 12] not in dump
