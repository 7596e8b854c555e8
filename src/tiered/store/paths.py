"""Where tiered keeps its data: one small place shared by the CLI, the server and the store.

The database is the ``database_url`` setting (``TIERED_DATABASE_URL`` or the config file, in the usual
precedence), else a SQLite file in the data directory: the ``home`` setting (``TIERED_HOME``), which defaults to
the per-user data directory (``platformdirs``) for ``tiered``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiered.config import Settings

__all__ = ["default_database_url", "default_spool_dir", "redact_url", "tiered_home"]


def tiered_home() -> Path:
    """The data directory: ``$TIERED_HOME`` or the per-user data directory for ``tiered``."""
    from tiered.config import tiered_home as configured_home

    return configured_home().expanduser()


def default_database_url(settings: Settings | None = None) -> str:
    """The ``database_url`` setting, else ``sqlite:///<home>/tiered.db``; ``settings`` defaults to the
    effective settings (environment and config file)."""
    if settings is None:
        from tiered.config import load_settings

        settings = load_settings()
    if settings.database_url:
        return settings.database_url
    from tiered.config import tiered_home as configured_home

    return f"sqlite:///{configured_home(settings.home).expanduser() / 'tiered.db'}"


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for logs and error messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL is reported by whoever parses it; never echo it raw
        return "<unparseable database URL>"


def default_spool_dir(url: str, home: Path | None = None) -> Path:
    """A spool directory per database, so records spooled for one database are never replayed into another;
    under ``home`` (default: the data directory)."""
    digest = hashlib.sha256(redact_url(url).encode()).hexdigest()[:16]
    return (home if home is not None else tiered_home()) / "spool" / digest
