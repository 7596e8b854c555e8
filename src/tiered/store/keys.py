"""Virtual keys: the secrets callers present to the proxy instead of a provider key.

A secret looks like ``tk-<43 url-safe characters>`` (256 bits). Only ``HMAC-SHA256(pepper, secret)`` is stored:
a leaked database alone does not let anyone use or brute-force the keys, because the pepper lives elsewhere (a
``0600`` file in the data directory, created on first use, or a setting shared by all replicas). The secret
is returned once by :meth:`KeyStore.create` and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tiered.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["KEY_PREFIX", "KeyRecord", "KeyStore", "load_pepper"]

logger = logging.getLogger("tiered.store.keys")

KEY_PREFIX: Final = "tk-"
_PEPPER_FILE: Final = "key-pepper"
_PEPPER_BYTES: Final = 32
_DISPLAY_CHARS: Final = 8


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A virtual key as stored: everything but the secret."""

    id: str
    name: str
    prefix: str  # the first characters of the secret, to tell keys apart in listings
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None = None
    rate_limit_rpm: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def load_pepper(data_dir: Path, configured: str | None = None) -> bytes:
    """The server pepper: ``configured`` (a setting, hex or text) if given, else ``data_dir/key-pepper``.

    The file is created with mode ``0600`` on first use. Several replicas sharing one database must share the
    pepper too (set it in each replica's settings), or keys made on one are unknown to the others.
    """
    if configured:
        return configured.encode()
    path = data_dir / _PEPPER_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("%s is readable by other users (mode %o): run `chmod 600 %s`", path, mode, path)
        pepper = path.read_bytes()
        if len(pepper) < 16:
            raise ConfigError(f"the key pepper file {path} is empty or truncated: restore it from a backup") from None
        return pepper
    except OSError as exc:
        raise ConfigError(f"cannot create the key pepper file {path}: {exc}. Check TIERED_HOME.") from exc
    pepper = secrets.token_hex(_PEPPER_BYTES).encode()
    try:
        os.write(fd, pepper)
        os.fsync(fd)
    finally:
        os.close(fd)
    return pepper


class KeyStore:
    """Create, verify, list and revoke virtual keys (synchronous: call :meth:`verify` off the event loop)."""

    def __init__(self, engine: Engine, pepper: bytes) -> None:
        if len(pepper) < 16:
            raise ConfigError("the virtual key pepper must be at least 16 bytes: use a long random value")
        self._engine = engine
        self._pepper = pepper

    def create(
        self,
        name: str,
        *,
        admin: bool = False,
        rate_limit_rpm: int | None = None,
        budget_usd: float | None = None,
        budget_period: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """Make a key; returns its record and the secret, which is shown to the user once and never again."""
        from tiered.store.schema import virtual_keys

        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=name,
            prefix=secret[: len(KEY_PREFIX) + _DISPLAY_CHARS],
            is_admin=admin,
            created_at=datetime.now(UTC),
            rate_limit_rpm=rate_limit_rpm,
            budget_usd=budget_usd,
            budget_period=budget_period,
        )
        with self._engine.begin() as conn:
            conn.execute(
                virtual_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    secret_hash=self._hash(secret),
                    prefix=record.prefix,
                    is_admin=record.is_admin,
                    created_at=record.created_at,
                    rate_limit_rpm=rate_limit_rpm,
                    budget_usd=budget_usd,
                    budget_period=budget_period,
                )
            )
        return record, secret

    def verify(self, secret: str) -> KeyRecord | None:
        """The active key whose secret this is, or ``None`` (unknown, revoked or malformed)."""
        import sqlalchemy as sa

        from tiered.store.schema import virtual_keys as k

        if not secret.startswith(KEY_PREFIX) or len(secret) > 256:
            return None
        digest = self._hash(secret)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(k).where(k.c.secret_hash == digest)).mappings().first()
        # The lookup is by digest; compare it in constant time all the same, so that no code path depends
        # on how many characters of the stored value matched.
        if row is None or not hmac.compare_digest(str(row["secret_hash"]), digest):
            return None
        record = _record(row)
        return record if record.active else None

    def list(self, *, include_revoked: bool = False) -> list[KeyRecord]:
        import sqlalchemy as sa

        from tiered.store.schema import virtual_keys as k

        query = sa.select(k).order_by(k.c.created_at, k.c.id)
        if not include_revoked:
            query = query.where(k.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key (idempotent); raises :class:`NotFoundError` for an unknown id."""
        import sqlalchemy as sa

        from tiered.store.schema import virtual_keys as k

        with self._engine.begin() as conn:
            conn.execute(
                sa.update(k).where(k.c.id == key_id, k.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
            )
            row = conn.execute(sa.select(k).where(k.c.id == key_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no virtual key with id {key_id!r}: list keys to see their ids")
        return _record(row)

    def _hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        is_admin=bool(row["is_admin"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        rate_limit_rpm=row["rate_limit_rpm"],
        budget_usd=row["budget_usd"],
        budget_period=row["budget_period"],
    )
