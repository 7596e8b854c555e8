"""Typer commands of the quality loop: ``tiered threshold show|set`` and ``tiered alerts`` (``tiered grade`` is in
:mod:`.grade_command`), and the store helpers they share.

``tiered.cli`` registers them::

    app.command("alerts")(commands.alerts)
    app.add_typer(commands.threshold_app, name="threshold")
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from tiered.cli_style import PlainCommand, plain_typer
from tiered.errors import ConfigError, TieredError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.quality.thresholds import ThresholdChange

__all__ = ["alerts", "threshold_app", "threshold_set", "threshold_show"]

threshold_app = plain_typer(help="Look at and override route thresholds (shared by every replica).")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL of the decision store [default: from the settings]."),
]


def _fail(exc: TieredError) -> NoReturn:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)


def _open(config: Path | None, database_url: str | None) -> tuple[Settings, Engine]:
    from tiered.config import load_settings
    from tiered.store.engine import make_engine
    from tiered.store.migrate import ensure_current
    from tiered.store.paths import default_database_url

    settings = load_settings(config)
    try:
        engine = make_engine(database_url or default_database_url(settings))
    except Exception as exc:
        raise ConfigError(f"invalid database URL: {exc}. Use sqlite:///path or postgresql://user@host/db") from exc
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return settings, engine


def _show(decision_id: str, route: str, request_text: str | None, answer_text: str | None, extra: str) -> None:
    from .transcript import parse_request_text, render_transcript

    typer.echo(f"\n=== decision {decision_id}  route {route}  {extra}")
    if request_text is None or answer_text is None:
        typer.echo("(no stored text: it was not kept, or its retention ran out)")
        return
    typer.echo("--- request")
    typer.echo(render_transcript(parse_request_text(request_text)))
    typer.echo("--- answer")
    typer.echo(answer_text)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "human"


def _stored(engine: Engine, decision_id: str) -> tuple[str, str | None, str | None]:
    import sqlalchemy as sa

    from tiered.errors import NotFoundError
    from tiered.store.schema import decisions

    with engine.connect() as conn:
        row = conn.execute(
            sa.select(decisions.c.route, decisions.c.request_text, decisions.c.answer_text).where(
                decisions.c.id == decision_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"decision {decision_id!r} not found")
    return row.route, row.request_text, row.answer_text


def _threshold_info(settings: Settings, engine: Engine, name: str, newest: ThresholdChange | None) -> dict[str, Any]:
    """What ``tiered threshold show`` says of one route."""
    from .controller import ThresholdController
    from .stats import route_summary
    from .thresholds import effective_threshold, history

    spec = settings.route(name)
    previews = ThresholdController(settings, engine).slice_previews(name)
    return {
        "threshold": effective_threshold(settings, name, newest),
        "configured": spec.threshold,
        "ceiling": spec.threshold_ceiling,
        "step": spec.threshold_step,
        "lower": spec.threshold_lower,
        "false_confident": route_summary(engine, settings, name).to_dict(),
        "changes": [
            {
                "at": c.created_at.isoformat() if c.created_at else None,
                "old": c.old_threshold,
                "new": c.new_threshold,
                "reason": c.reason,
                "slice": c.slice,  # a slice's own threshold; None: the route's
            }
            for c in history(engine, name, limit=5)
        ],
        "slices": {
            label: {"action": p.action, "old": p.old, "new": p.new, "reason": p.reason} for label, p in previews.items()
        },
    }


@threshold_app.command("show", cls=PlainCommand)
def threshold_show(
    route: Annotated[str | None, typer.Option("--route", help="Only this route.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Each route's threshold in force, its limits, the false-confident rate behind it and the last changes."""
    from .thresholds import current_changes

    try:
        settings, engine = _open(config, database_url)
        try:
            names = [route] if route is not None else list(settings.routes)
            changes = current_changes(engine)
            out = {name: _threshold_info(settings, engine, name, changes.get(name)) for name in names}
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    if json_output:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    for name, info in out.items():
        fc = info["false_confident"]
        rate = "n/a" if fc["rate"] is None else f"{fc['rate']:.3f}"
        typer.echo(
            f"{name}: threshold {info['threshold']:.3g} (configured {info['configured']:.3g}, ceiling "
            f"{info['ceiling']:.3g}, step {info['step']:.3g}{', lowers' if info['lower'] else ''})"
        )
        typer.echo(
            f"  false-confident {rate}, upper bound {fc['upper_bound']:.3f} at {fc['level']:.0%} "
            f"(target {fc['target']}), {fc['wrong']} wrong of {fc['n']} graded"
        )
        for change in info["changes"]:
            typer.echo(f"  {change['at']}  {change['old']} -> {change['new']}  {change['reason']}")
        for label, preview in info["slices"].items():
            typer.echo(f"  slice {label}: would {preview['action']} ({preview['reason']})")


@threshold_app.command("set", cls=PlainCommand)
def threshold_set(
    route: Annotated[str, typer.Argument(help="The route.")],
    value: Annotated[float | None, typer.Argument(help="The new threshold, 0..1.")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Go back to the configured threshold.")] = False,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded with the change).")] = "",
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Override a route's threshold for every replica (they apply it within quality.poll_interval_s).

    Recorded as a manual change; the controller carries on from the new value.
    """
    from .thresholds import ANY, current_changes, effective_threshold, record_change

    if reset == (value is not None):
        _fail(ConfigError("give either a VALUE or --reset"))
    if value is not None and not 0.0 <= value <= 1.0:
        _fail(ConfigError(f"the threshold must be between 0 and 1, got {value}"))
    who = _login()
    try:
        settings, engine = _open(config, database_url)
        try:
            settings.route(route)
            old = effective_threshold(settings, route, current_changes(engine).get(route))
            new = settings.route(route).threshold if reset else value
            assert new is not None
            what = "reset to the configured threshold" if reset else "set"
            change = record_change(
                engine,
                route=route,
                old=old,
                new=new,
                reason=f"manual: {what} by {who}" + (f": {reason}" if reason else ""),
                evidence={"manual": True, "by": who, "reset": reset, "at": datetime.now(UTC).isoformat()},
                expected_last_id=ANY,
            )
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    assert change is not None
    typer.echo(f"route {route}: threshold {old:.4g} -> {new:.4g} (change {change.id})")


def alerts(
    since: Annotated[
        str | None, typer.Option("--since", help="A duration back from now (30m, 24h, 7d) or a date.")
    ] = "7d",
    route: Annotated[str | None, typer.Option("--route", help="Only this route.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List stored alerts, newest first (escalation storms, upstream errors, false-confident rates)."""
    from tiered.store.commands import parse_since

    from .alerts import list_alerts

    try:
        start = parse_since(since, datetime.now(UTC))
        _, engine = _open(config, database_url)
        try:
            found = list_alerts(engine, since=start, route=route, limit=limit)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    if json_output:
        rows = [
            {
                "id": a.id,
                "kind": a.kind,
                "route": a.route,
                "severity": a.severity,
                "message": a.message,
                "details": a.details,
                "created_at": a.created_at.isoformat(),
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
            }
            for a in found
        ]
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if not found:
        typer.echo("no alerts")
        return
    for a in found:
        state = f"resolved {a.resolved_at:%Y-%m-%d %H:%M}" if a.resolved_at else "open"
        typer.echo(f"{a.created_at:%Y-%m-%d %H:%M:%S}  {a.severity:<8} {a.kind:<17} {a.route or '-':<12} {state}")
        typer.echo(f"    {a.message}")
