"""Typer commands of the decision store: ``tiered report``, ``tiered export`` and ``tiered db upgrade``.

They are plain functions; ``tiered.cli`` registers them, e.g.::

    app.command("report")(commands.report)
    app.command("export")(commands.export)
    db_app.command("upgrade")(commands.db_upgrade)
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn

import typer

from tiered.errors import ConfigError, TieredError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["db_upgrade", "export", "parse_since", "report"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the decision store [default: $TIERED_DATABASE_URL, else $TIERED_HOME/tiered.db]",
        show_default=False,
    ),
]
Since = Annotated[
    str | None,
    typer.Option("--since", help="Window start: a duration back from now (30m, 24h, 7d, 2w), a date or an ISO time."),
]
Route = Annotated[str | None, typer.Option("--route", help="Only this route.")]


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """``24h`` means ``now - 24h``; ``2026-11-01`` or an ISO time is taken as given (UTC if no offset);
    ``None``, ``""`` and ``all`` mean no lower bound."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    match = _DURATION.match(text.lower())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither a duration (30m, 24h, 7d, 2w) nor a date or ISO time (2026-11-01T12:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def report(
    *,
    since: Since = "24h",
    route: Route = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Show calls, escalation rate, answers per tier, escalation reasons, confidence, costs, savings and latency."""
    import json

    from tiered.quality.shadow_report import render_shadow, shadow_section  # hook (#19): shadow projections
    from tiered.store.report import build_report

    try:
        engine = _open(database_url)
        try:
            start = parse_since(since, datetime.now(UTC))
            result = build_report(engine, since=start, route=route)
            shadow = shadow_section(engine, since=start, route=route)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    if json_output:
        out = result.to_dict() | ({"shadow": [p.to_dict() for p in shadow]} if shadow else {})
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    from rich.console import Console

    from tiered.store.render import render_report

    console = Console()
    render_report(result, console)
    render_shadow(shadow, console)


def export(
    *,
    since: Since = None,
    route: Route = None,
    fmt: Annotated[Literal["jsonl", "csv"], typer.Option("--format", help="jsonl (with attempts) or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    include_content: Annotated[
        bool, typer.Option("--include-content", help="Include stored request and answer text (redacted).")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Export decisions, oldest first, for analysis elsewhere."""
    from tiered.store.export import export_decisions

    try:
        engine = _open(database_url)
        try:
            start = parse_since(since, datetime.now(UTC))
            if output is None:
                count = export_decisions(
                    engine, sys.stdout, fmt=fmt, since=start, route=route, include_content=include_content
                )
            else:
                with output.open("w", encoding="utf-8", newline="") as out:
                    count = export_decisions(
                        engine, out, fmt=fmt, since=start, route=route, include_content=include_content
                    )
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(ConfigError(f"cannot write {output}: {exc.strerror or exc}"))
    if output is not None:
        typer.echo(f"exported {count:,} decision(s) to {output}", err=True)


def db_upgrade(*, database_url: DatabaseUrl = None) -> None:
    """Create or migrate the decision store to the newest schema (`tiered serve` does this on start too)."""
    from tiered.store.engine import make_engine
    from tiered.store.migrate import current_revision, upgrade
    from tiered.store.paths import default_database_url, redact_url

    url = database_url or default_database_url()
    try:
        engine = make_engine(url)
        try:
            upgrade(engine)
            revision = current_revision(engine)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    typer.echo(f"database at {redact_url(url)} is at revision {revision} (newest)")


def _open(database_url: str | None) -> Engine:
    from tiered.store.engine import make_engine
    from tiered.store.migrate import ensure_current
    from tiered.store.paths import default_database_url

    try:
        engine = make_engine(database_url or default_database_url())
    except Exception as exc:  # a malformed URL or a missing driver
        raise ConfigError(f"invalid database URL: {exc}. Use sqlite:///path or postgresql://user@host/db") from exc
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _fail(exc: TieredError) -> NoReturn:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)
