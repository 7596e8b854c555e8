from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tiered.errors import ConfigError, NotFoundError
from tiered.store.keys import KeyStore, load_pepper


def test_create_verify_list_revoke(engine: Engine, tmp_path: Path) -> None:
    keys = KeyStore(engine, load_pepper(tmp_path))
    record, secret = keys.create("ci bot", admin=True, rate_limit_rpm=60)
    other, other_secret = keys.create("alice")
    assert secret.startswith("tk-") and len(secret) > 40
    assert secret.startswith(record.prefix) and len(record.prefix) == 11
    assert record.is_admin and record.active and record.rate_limit_rpm == 60
    assert secret not in repr(record)

    assert keys.verify(secret) == record
    assert keys.verify(other_secret) == other
    assert keys.verify(secret + "x") is None
    assert keys.verify("sk-ant-" + secret[3:]) is None
    assert keys.verify("") is None
    assert [k.id for k in keys.list()] == [record.id, other.id]

    revoked = keys.revoke(record.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert keys.revoke(record.id).revoked_at == revoked.revoked_at  # idempotent
    assert keys.verify(secret) is None
    assert [k.id for k in keys.list()] == [other.id]
    assert {k.id for k in keys.list(include_revoked=True)} == {record.id, other.id}
    with pytest.raises(NotFoundError, match="no virtual key"):
        keys.revoke("key_missing")


def test_the_secret_is_never_stored(engine: Engine, tmp_path: Path) -> None:
    keys = KeyStore(engine, load_pepper(tmp_path))
    _, secret = keys.create("bob")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM virtual_keys")).one()
    stored = " ".join(str(v) for v in row)
    assert secret not in stored
    assert secret[3:] not in stored
    assert secret[12:30] not in stored


def test_a_different_pepper_does_not_verify(engine: Engine, tmp_path: Path) -> None:
    _, secret = KeyStore(engine, load_pepper(tmp_path / "a")).create("carol")
    assert KeyStore(engine, load_pepper(tmp_path / "b")).verify(secret) is None
    assert KeyStore(engine, load_pepper(tmp_path / "a")).verify(secret) is not None


def test_pepper_file_is_private_and_stable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = load_pepper(tmp_path / "home")
    path = tmp_path / "home" / "key-pepper"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_pepper(tmp_path / "home") == first
    assert len(first) >= 32
    assert load_pepper(tmp_path / "home", configured="a shared pepper for all replicas") != first
    path.chmod(0o644)
    load_pepper(tmp_path / "home")
    assert "chmod 600" in caplog.text
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="truncated"):
        load_pepper(tmp_path / "home")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        KeyStore(sa.create_engine("sqlite://"), b"short")
