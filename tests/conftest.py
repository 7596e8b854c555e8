"""Test-wide guards: no network beyond loopback, no user home, asyncio for anyio tests."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise OSError(f"tests may not reach the network (tried {address!r}); use the fake upstream")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise OSError(f"tests may not reach the network (tried {address!r}); use the fake upstream")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every tiered path at a temp dir and clear settings that would leak in from the machine."""
    home = tmp_path_factory.mktemp("tiered-home")
    monkeypatch.setenv("TIERED_HOME", str(home))
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "TIERED_CONFIG",
        "TIERED_DATABASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield home


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- databases: SQLite files in temp dirs, PostgreSQL in a throwaway schema per test ------------------------
# PostgreSQL tests are marked ``postgres`` and connect to ``TIERED_TEST_POSTGRES_URL`` (default
# ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). When it is unreachable they are skipped, except
# under CI (``CI=true``), where that is a failure.

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = os.environ.get("TIERED_TEST_POSTGRES_URL", PG_DEFAULT_URL)
    engine = make_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        message = f"PostgreSQL at {url} is unreachable ({type(exc).__name__}: {exc}); set TIERED_TEST_POSTGRES_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A URL whose connections all live in a fresh schema (via ``search_path``), dropped afterwards."""
    schema = f"tiered_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_base_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg_base_url else "?"
    try:
        yield f"{pg_base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path}/tiered.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


# -- the fake upstream: one server per test module, reset before each test ---------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


@pytest.fixture
def upstream(fake: FakeUpstream) -> Iterator[FakeUpstream]:
    fake.scenario = Scenario()
    fake.reset()
    yield fake
    fake.wait_idle()
