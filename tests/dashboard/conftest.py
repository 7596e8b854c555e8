"""Fixtures for the dashboard: the fake upstream, a proxy with a store in front of it, a headless browser, and
databases for the queries (SQLite in a temp dir; PostgreSQL in a throwaway schema).

The browser is Debian's chromium driven by Playwright (never Playwright's own downloads). When either is
missing the browser tests skip with the reason, and so do the PostgreSQL tests when the server is unreachable,
except under CI (``CI=true``), where both are failures.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread
from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade

from ._helpers import ADMIN_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = os.environ.get("TIERED_TEST_POSTGRES_URL", PG_DEFAULT_URL)
    engine = make_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        _unavailable(f"PostgreSQL at {url} is unreachable ({type(exc).__name__}); set TIERED_TEST_POSTGRES_URL")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store on SQLite, and on PostgreSQL in a fresh schema (dropped afterwards)."""
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path}/tiered.db")
        upgrade(made)
        yield made
        made.dispose()
        return
    base = request.getfixturevalue("pg_base_url")
    schema = f"tiered_dash_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    made = make_engine(f"{base}{separator}options={quote(f'-csearch_path={schema}')}", poolclass=sa.pool.NullPool)
    try:
        upgrade(made)
        yield made
    finally:
        made.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def dashboard_settings(upstream: FakeUpstream, **env: str) -> Settings:
    """Pass-through mode with an admin key; every shipped answer is an audit sample (so grading has work)."""
    base = {
        "ANTHROPIC_BASE_URL": upstream.url,
        "TIERED_SERVER__ADMIN_KEY": ADMIN_KEY,
        "TIERED_ROUTES__DEFAULT__AUDIT_RATE": "1.0",
        "TIERED_JUDGE__ENABLED": "off",
        # the grading view's confirmation is tested with the first rule, which raises on 1 wrong of 30
        "TIERED_QUALITY__CONTROLLER_RULE": "upper-bound",
    }
    return load_settings(environ={**base, **env})


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    with ProxyThread(dashboard_settings(upstream)) as running:
        yield running


def _playwright_or_skip() -> Any:
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright; never `playwright install`)"
    else:
        if not CHROMIUM.is_file():
            reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        _unavailable(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright_or_skip()
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
