"""The decision store: every :class:`~tiered.decision.Decision` recorded durably, off the request path.

Modules, one concern each:

* :mod:`.paths` where data lives (``default_database_url``); :mod:`.engine` SQLite (WAL) / PostgreSQL engines
* :mod:`.schema` the tables; :mod:`.migrate` Alembic migrations, run programmatically
* :mod:`.writer` the background :class:`DecisionWriter` (queue, batches, spool, replay); :mod:`.spool` the
  spool files; :mod:`.records` decision -> rows
* :mod:`.privacy` what text is kept, redaction, retention; :mod:`.keys` virtual keys
* :mod:`.report`, :mod:`.render`, :mod:`.export` and :mod:`.commands` for ``tiered report / export / db``

Importing this package is cheap: names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiered._lazy import lazy_exports

if TYPE_CHECKING:
    from tiered.store.engine import make_engine
    from tiered.store.export import export_decisions
    from tiered.store.keys import KeyRecord, KeyStore, load_pepper
    from tiered.store.migrate import upgrade
    from tiered.store.paths import default_database_url, default_spool_dir, tiered_home
    from tiered.store.privacy import Content, ContentReason, cleanup, redact
    from tiered.store.render import render_report
    from tiered.store.report import Report, build_report
    from tiered.store.writer import DecisionWriter, WriterConfig, WriterStats

__all__ = [
    "Content",
    "ContentReason",
    "DecisionWriter",
    "KeyRecord",
    "KeyStore",
    "Report",
    "WriterConfig",
    "WriterStats",
    "build_report",
    "cleanup",
    "default_database_url",
    "default_spool_dir",
    "export_decisions",
    "load_pepper",
    "make_engine",
    "redact",
    "render_report",
    "tiered_home",
    "upgrade",
]

_WHERE = {
    "Content": "privacy",
    "ContentReason": "privacy",
    "cleanup": "privacy",
    "redact": "privacy",
    "DecisionWriter": "writer",
    "WriterConfig": "writer",
    "WriterStats": "writer",
    "KeyRecord": "keys",
    "KeyStore": "keys",
    "load_pepper": "keys",
    "Report": "report",
    "build_report": "report",
    "render_report": "render",
    "export_decisions": "export",
    "make_engine": "engine",
    "upgrade": "migrate",
    "default_database_url": "paths",
    "default_spool_dir": "paths",
    "tiered_home": "paths",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
