"""The ``tiered`` command line. Each command imports what it needs when it runs, so ``--help`` is instant."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_style import PlainCommand, plain_typer

if TYPE_CHECKING:
    from .decision import Decision

__all__ = ["app", "main"]

app = plain_typer(
    name="tiered",
    help="A cost-cutting LLM router: a cheap model triages, the expensive model answers only what it must.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = plain_typer(help="Look at the effective configuration.")
app.add_typer(config_app, name="config")
keys_app = plain_typer(help="Virtual keys for the proxy's keys mode (stored hashed).")
app.add_typer(keys_app, name="keys")
db_app = plain_typer(help="The decision store's database.")
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tiered {version('tiered')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """A cost-cutting LLM router: a cheap model triages, the expensive model answers only what it must."""


def _register_commands() -> None:
    """Commands that live beside their subsystems (their modules import only typer and rich at the top)."""
    from . import demo
    from .confidence import commands as confidence
    from .offline import commands as offline
    from .quality import commands as quality
    from .quality import grade_command
    from .store import commands as store

    app.command("report", cls=PlainCommand)(store.report)
    app.command("export", cls=PlainCommand)(store.export)
    db_app.command("upgrade", cls=PlainCommand)(store.db_upgrade)
    app.command("backtest", cls=PlainCommand)(offline.backtest)
    app.command("eval", cls=PlainCommand)(offline.evaluate)
    app.command("demo", cls=PlainCommand)(demo.demo)
    app.command("grade", cls=PlainCommand)(grade_command.grade)
    app.command("alerts", cls=PlainCommand)(quality.alerts)
    app.add_typer(quality.threshold_app, name="threshold")
    app.add_typer(confidence.confidence_app, name="confidence")


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (default: $TIERED_CONFIG, $TIERED_HOME/config.toml, ./tiered.toml)."
    ),
]


def _receipt(decision: Decision, stored_in: str | None) -> str:
    from .formatting import money, percent, shared_money_digits

    usage = decision.usage
    tier = "pass-through" if decision.passthrough else f"tier {decision.answer_tier}"
    lines = [
        f"answered by  {decision.answered_by} ({tier})"
        + (f", escalated: {decision.reason}" if decision.escalated else ""),
    ]
    for attempt in decision.attempts:
        conf = f" confidence {attempt.confidence:.2f}" if attempt.confidence is not None else ""
        reason = f" -> {attempt.reason}" if attempt.reason is not None else ""
        lines.append(
            f"  {attempt.role:<7} {attempt.model:<22} {attempt.outcome}{conf}{reason}"
            f"  {attempt.usage.total_input_tokens} in / {attempt.usage.output_tokens} out"
            f"  {money(attempt.cost_usd, unknown='unknown')}  {attempt.latency_ms:.0f} ms"
        )
    # cost, counterfactual and savings are read together: one precision for the three
    figures = (decision.cost_usd, decision.counterfactual_cost_usd, decision.savings_usd)
    digits = shared_money_digits(figures)
    lines.append(f"tokens       {usage.total_input_tokens} in / {usage.output_tokens} out")
    lines.append(f"cost         {money(decision.cost_usd, digits=digits, unknown='unknown')}")
    lines.append(
        f"final tier   {money(decision.counterfactual_cost_usd, digits=digits, unknown='unknown')} (counterfactual)"
    )
    savings = decision.savings_usd
    if savings is not None and decision.counterfactual_cost_usd:
        share = percent(savings / decision.counterfactual_cost_usd, digits=0)
        lines.append(f"savings      {money(savings, digits=digits)} ({share})")
    lines.append(f"latency      {decision.latency_ms:.0f} ms")
    if stored_in is not None:
        lines.append(f"decision     {decision.id} (stored in {stored_in})")
    return "\n".join(lines)


def _store_decision(settings: Any, decision: Decision, content: Any) -> str:
    """Record ``decision`` in the decision store, as the proxy would, so its id can be looked up (dashboard,
    ``GET /v1/tiered/decisions/{id}``, ``tiered export``, ``tiered grade``); returns where, password hidden."""
    from datetime import timedelta

    from sqlalchemy.engine import make_url

    from .store import default_database_url, make_engine, upgrade
    from .store.records import insert_records, to_record

    url = default_database_url(settings)
    engine = make_engine(url)
    try:
        upgrade(engine)
        record = to_record(decision, content, timedelta(days=settings.content_retention_days))
        with engine.begin() as conn:
            insert_records(conn, [record])
    finally:
        engine.dispose()
    return make_url(url).render_as_string(hide_password=True)


@app.command(cls=PlainCommand)
def ask(
    prompt: Annotated[str, typer.Argument(help="The question; '-' reads it from standard input.")],
    route: Annotated[str, typer.Option("--route", "-r", help="Route to use.")] = "default",
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Largest answer, in tokens.")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer and the whole decision as JSON.")] = False,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Record the decision in the decision store, as the proxy does.")
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Ask one question through a route and print the answer with a receipt.

    The receipt shows which tier answered, its confidence, tokens, cost, what the final tier alone would have
    cost, and the savings. Upstreams come from the config (ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY for the
    default Anthropic provider; try `tiered fake-upstream` to run offline). The decision is recorded in the
    decision store (see `tiered report`) unless --no-store is given; its id is printed only then.
    """
    import asyncio

    from .config import load_settings
    from .router import Router

    text = sys.stdin.read() if prompt == "-" else prompt
    request: dict[str, Any] = {"max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}
    if system:
        request["system"] = system
    settings = load_settings(config)

    async def run() -> Any:
        router = Router(settings)
        try:
            return await router.create(request, route=route)
        finally:
            await router.aclose()

    routed = asyncio.run(run())
    stored_in: str | None = None
    if store:
        content = None
        if settings.store_content:
            from .quality.transcript import request_text
            from .store import Content, ContentReason

            content = Content(request_text(request), routed.text, ContentReason.STORE_CONTENT)
        stored_in = _store_decision(settings, routed.decision, content)
    if as_json:
        typer.echo(json.dumps({"answer": routed.text, "decision": routed.decision.to_dict()}, indent=2))
        return
    typer.echo(routed.text)
    typer.echo("")
    typer.echo(_receipt(routed.decision, stored_in), err=True)


@config_app.command("show", cls=PlainCommand)
def config_show(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
) -> None:
    """Print the effective configuration (flags > TIERED_* env > config file > defaults), secrets masked."""
    from .config import config_file_path, load_settings
    from .config_show import masked_settings

    settings = load_settings(config)
    shown = masked_settings(settings)
    source = config_file_path(config)
    if as_json:
        typer.echo(json.dumps({"config_file": str(source) if source else None, "settings": shown}, indent=2))
        return
    import tomli_w

    typer.echo(f"# config file: {source if source else '(none)'}")
    typer.echo(tomli_w.dumps(_toml_ready(shown)))


def _toml_ready(value: Any) -> Any:
    """TOML has no null: drop unset values."""
    if isinstance(value, dict):
        return {k: _toml_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_ready(v) for v in value]
    return value


@app.command("fake-upstream", cls=PlainCommand)
def fake_upstream(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    scenario: Annotated[Path | None, typer.Option(help="Scenario file (TOML or JSON) scripting replies.")] = None,
) -> None:
    """Run the bundled fake Anthropic-compatible upstream, to try tiered offline.

    Point tiered at it with ANTHROPIC_BASE_URL=http://127.0.0.1:PORT. Replies are deterministic per prompt;
    a prompt can script itself with inline directives such as [[fake confidence=0.3]].
    """
    from .fake_upstream import Scenario, run

    loaded = Scenario.load(scenario) if scenario is not None else None
    typer.echo(f"fake upstream on http://{host}:{port} (ANTHROPIC_BASE_URL=http://{host}:{port})", err=True)
    run(host, port, loaded)


@app.command(cls=PlainCommand)
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1: loopback only).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option(help="Worker processes (several share the decision store).")] = 1,
) -> None:
    """Run the proxy: Anthropic-compatible /v1/messages and OpenAI-compatible /v1/chat/completions.

    Point a client at it by base URL and use model "tiered" (route default) or "tiered/<route>"; any other
    model name is passed through unrouted. Decisions go to the store (SQLite under TIERED_HOME by default,
    or TIERED_DATABASE_URL). Stops gracefully on Ctrl-C / SIGTERM: in-flight requests finish.
    """
    from .config import load_settings
    from .server.serve import run_server

    settings = load_settings(config, overrides={"server.host": host, "server.port": port})
    run_server(settings, config_file=config, workers=workers)


def _key_store(config: Path | None) -> Any:
    from .config import load_settings, tiered_home
    from .store import KeyStore, default_database_url, load_pepper, make_engine, upgrade

    settings = load_settings(config)
    engine = make_engine(default_database_url(settings))
    upgrade(engine)
    pepper = settings.server.key_pepper.get_secret_value() if settings.server.key_pepper else None
    return KeyStore(engine, load_pepper(tiered_home(settings.home), pepper))


@keys_app.command("create", cls=PlainCommand)
def keys_create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by (an app, a team).")],
    admin: Annotated[bool, typer.Option("--admin", help="May read every decision and the dashboard.")] = False,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="Requests per minute, across replicas.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", min=0, help="Spend cap in USD per period.")] = None,
    period: Annotated[str, typer.Option("--period", help="Budget period: day or month (UTC).")] = "day",
    config: ConfigOption = None,
) -> None:
    """Make a virtual key. The secret is printed once and never stored: keep it."""
    if period not in ("day", "month"):
        raise typer.BadParameter("must be day or month", param_hint="--period")
    record, secret = _key_store(config).create(
        name, admin=admin, rate_limit_rpm=rpm, budget_usd=budget, budget_period=period if budget is not None else None
    )
    typer.echo(secret)
    typer.echo(f"key {record.id} ({record.name}{', admin' if record.is_admin else ''}) created", err=True)


@keys_app.command("list", cls=PlainCommand)
def keys_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    config: ConfigOption = None,
) -> None:
    """List keys (id, name, prefix, admin, created, revoked); secrets are never shown."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    records = _key_store(config).list(include_revoked=revoked)
    # the id is what `tiered keys revoke` takes: never cut it; the other columns wrap to fit the terminal
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in records), default=2))
    table.add_column("name", overflow="fold")
    table.add_column("prefix", overflow="fold")
    table.add_column("admin")
    table.add_column("created", overflow="fold")
    if revoked:
        table.add_column("revoked", overflow="fold")
    for record in records:
        row = [
            record.id,
            escape(record.name),
            record.prefix + "...",
            "yes" if record.is_admin else "",
            record.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        if revoked:
            row.append(record.revoked_at.strftime("%Y-%m-%d %H:%M") if record.revoked_at else "")
        table.add_row(*row)
    Console().print(table)


@keys_app.command("revoke", cls=PlainCommand)
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `tiered keys list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: running proxies refuse it within a few seconds."""
    record = _key_store(config).revoke(key_id)
    typer.echo(f"key {record.id} ({record.name}) revoked")


_register_commands()


def main() -> None:
    """Console entry point: tiered's own errors print as one clear line, not a traceback."""
    from .errors import ConfigError, TieredError

    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise SystemExit(2) from None
    except TieredError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
