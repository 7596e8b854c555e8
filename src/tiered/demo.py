"""``tiered demo``: try tiered with no API key and no network.

It starts, on this machine only, the bundled fake Anthropic API, the proxy in front of it (pass-through mode,
a fresh SQLite decision store in a temporary folder, a generated admin key) and a traffic generator that
replays realistic outcomes (see :mod:`tiered.dashboard.demo_items`) and rates shipped answers as an app's
users would. It prints the dashboard's address and the admin key, and opens nothing. Within a minute the
dashboard shows savings, escalations, grades, audit samples waiting for a person, and threshold changes.

The demo's settings favour speed over realism where the quality loop needs evidence: a fifth of shipped
answers are audited (1% is the default) and the threshold controller looks every few seconds.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

if TYPE_CHECKING:
    import uvicorn

    from .config import Settings
    from .dashboard.demo_items import Item
    from .dashboard.traffic import TrafficGenerator

__all__ = ["DEFAULT_DATA_DIR", "DemoConfig", "RunningDemo", "demo", "demo_settings", "running_demo"]

DEFAULT_DATA_DIR: Final = Path("../shared/data")
_CLIENT_KEY: Final = "demo-app-key"  # the demo app's own key: pass-through mode forwards it to the fake
_GASTRO_SHARE: Final = 0.3


@dataclass(frozen=True, slots=True)
class DemoConfig:
    home: Path
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path | None = DEFAULT_DATA_DIR
    rate: float = 6.0
    latency: float = 1.0  # scales the fake models' latency; 0 answers at once
    audit_rate: float = 0.2
    controller_interval_s: float = 5.0
    admin_key: str = ""  # empty: a fresh one


@dataclass(frozen=True, slots=True)
class RunningDemo:
    url: str
    admin_key: str
    settings: Settings
    traffic: TrafficGenerator
    gastro: Path | None

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/dashboard#window=15m"


def demo_settings(config: DemoConfig, upstream_url: str, admin_key: str, *, gastro: bool) -> Settings:
    """The demo's own settings, built whole: no config file or environment variable of this machine leaks in."""
    from .config import Settings
    from .dashboard.demo_items import CHEAP, DEEP

    route = {
        "tiers": [CHEAP, DEEP],
        "threshold": 0.8,
        "audit_rate": config.audit_rate,
        "max_false_confident": 0.05,
        "threshold_step": 0.05,
        "threshold_ceiling": 0.9,
    }
    providers = {name: p.model_dump() for name, p in Settings().providers.items()}
    providers["anthropic"].update(base_url=upstream_url, api_key=None)
    return Settings.model_validate(
        {
            "home": str(config.home),
            "database_url": f"sqlite:///{config.home / 'tiered.db'}",
            "routes": {"default": route, **({"gastro": route} if gastro else {})},
            "providers": providers,
            "server": {"host": config.host, "port": config.port, "auth": "passthrough", "admin_key": admin_key},
            # the first controller rule: it raises within a short demo (the two-sided rule waits for evidence)
            "quality": {
                "controller_interval_s": config.controller_interval_s,
                "poll_interval_s": 1.0,
                "controller_rule": "upper-bound",
            },
            "judge": {"enabled": "off"},
            "alerts": {"check_interval_s": 2.0},
        }
    )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from .errors import ConfigError

        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port (0: any)"
        ) from exc
    return sock


@contextlib.contextmanager
def _serve(settings: Settings, sock: socket.socket) -> Iterator[uvicorn.Server]:
    import uvicorn

    from .server.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on"))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported below, on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="tiered-demo-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the demo proxy did not start: {failure[0] if failure else 'timed out'!r}")
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(15)


@contextlib.contextmanager
def running_demo(config: DemoConfig) -> Iterator[RunningDemo]:
    """The fake upstream, the proxy and the traffic, running until the block ends."""
    from .dashboard.demo_items import demo_scenario, find_gastro, gastro_items, synthetic_items
    from .dashboard.traffic import TrafficConfig, TrafficGenerator
    from .fake_upstream import FakeUpstream

    gastro_path = find_gastro(config.data_dir)
    synthetic = synthetic_items()
    gastro: list[Item] = gastro_items(gastro_path) if gastro_path is not None else []
    admin_key = config.admin_key or f"demo-admin-{secrets.token_urlsafe(12)}"
    sock = _bind(config.host, config.port)
    with FakeUpstream(demo_scenario(synthetic + gastro, latency=config.latency)) as fake:
        settings = demo_settings(config, fake.url, admin_key, gastro=bool(gastro))
        host, port = sock.getsockname()[:2]
        url = f"http://{host}:{port}"
        with _serve(settings, sock):
            traffic = TrafficGenerator(
                TrafficConfig(proxy_url=url, api_key=_CLIENT_KEY, rate=config.rate),
                [(synthetic, 1.0 - _GASTRO_SHARE if gastro else 1.0), (gastro, _GASTRO_SHARE)],
            ).start()
            try:
                yield RunningDemo(url, admin_key, settings, traffic, gastro_path)
            finally:
                traffic.stop()


def _status(running: RunningDemo) -> str:
    s = running.traffic.stats
    return f"  {time.strftime('%H:%M:%S')}  {s.sent} calls · {s.escalated} escalated · {s.graded} rated by the app" + (
        f" · {s.failed} failed" if s.failed else ""
    )


class _Events:
    """Threshold changes and alerts as one short line each, read from the store (the quality loop's own log
    lines are JSON for machines; the demo silences them)."""

    def __init__(self, settings: Settings) -> None:
        from .store import make_engine

        assert settings.database_url is not None
        self.engine = make_engine(settings.database_url)
        self.threshold_id = 0
        self.alert_id = 0

    def lines(self) -> list[str]:
        from .dashboard.listing import recent_alerts
        from .quality.thresholds import history

        out: list[str] = []
        try:
            changes = [c for c in history(self.engine, limit=50) if c.id > self.threshold_id]
            alerts = [a for a in recent_alerts(self.engine, route=None, limit=50) if a.id > self.alert_id]
        except Exception:  # the proxy may still be creating the tables
            return out
        for c in reversed(changes):
            old = "?" if c.old_threshold is None else f"{c.old_threshold:.2f}"
            out.append(f"  threshold   {c.route}: {old} -> {c.new_threshold:.2f}")
            self.threshold_id = max(self.threshold_id, c.id)
        for a in reversed(alerts):
            out.append(f"  alert       {a.route or 'all routes'}: {a.message}")
            self.alert_id = max(self.alert_id, a.id)
        return out

    def close(self) -> None:
        self.engine.dispose()


def demo(
    port: Annotated[int, typer.Option(help="Port of the proxy and its dashboard (0: any free port).")] = 8080,
    rate: Annotated[float, typer.Option(min=0.1, max=200.0, help="Requests per second the traffic sends.")] = 6.0,
    home: Annotated[
        Path | None, typer.Option(help="Keep the demo's database here (default: a temporary folder, removed).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder with the verbalized-confidence-gastro data set, to replay its real recorded outcomes "
            "(default: the demo's built-in questions)."
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(min=0.0, help="Stop after this long (0: run until Ctrl-C).")] = 0.0,
) -> None:
    """Try tiered without an API key: a fake Anthropic API, the proxy and live traffic, all on this machine.

    Prints the dashboard's address and an admin key to sign in with; opens nothing. Stop with Ctrl-C.
    """
    import logging
    import os

    from .dashboard.demo_items import GASTRO_FILE, find_gastro

    if data is not None and find_gastro(data) is None:
        raise typer.BadParameter(
            f"no {GASTRO_FILE} in {data} or its verbalized-confidence-gastro folder", param_hint="--data"
        )
    folder = home if home is not None else Path(tempfile.mkdtemp(prefix="tiered-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    # the store's spool and key pepper live under TIERED_HOME: keep them in the demo's folder too
    os.environ["TIERED_HOME"] = str(folder)
    config = DemoConfig(home=folder, port=port, data_dir=data, rate=rate)
    for name in ("tiered.quality", "tiered.alerts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with running_demo(config) as running:
            _print_banner(running, folder, kept=home is not None, rate=rate)
            _watch(running, seconds)
    except KeyboardInterrupt:
        typer.echo("\nstopping")
    finally:
        if home is None:
            shutil.rmtree(folder, ignore_errors=True)


def _print_banner(running: RunningDemo, folder: Path, *, kept: bool, rate: float) -> None:
    """Where everything is: the dashboard, the key to sign in with, the proxy, the database, the routes."""
    echo = typer.echo
    echo("tiered demo: a fake Anthropic API, the proxy and live traffic, on this machine only.\n")
    echo(f"  dashboard   {running.dashboard_url}")
    echo(f"  admin key   {running.admin_key}   (paste it into the dashboard's sign-in form)")
    echo(f"  proxy       {running.url}   (any x-api-key works: requests go to the fake)")
    echo(f"  database    {folder / 'tiered.db'}" + ("" if kept else "   (removed on exit)"))
    routes = "default (a synthetic everyday mix)"
    if running.gastro is not None:
        routes += f", gastro (real outcomes from {running.gastro.parent.name})"
    echo(f"  routes      {routes}")
    echo(f"  traffic     about {rate:g} requests/s; Ctrl-C to stop\n")


def _watch(running: RunningDemo, seconds: float) -> None:
    """Print the demo's events as they come and a status line every 15 s, for ``seconds`` (0: until Ctrl-C)."""
    echo = typer.echo
    events = _Events(running.settings)
    started = time.monotonic()
    deadline = started + seconds if seconds > 0 else None
    next_status = started + 15.0
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            for line in events.lines():
                echo(line)
            if time.monotonic() >= next_status:
                echo(_status(running))
                next_status += 15.0
        echo(_status(running))
    finally:
        events.close()
