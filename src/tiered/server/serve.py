"""Running the proxy under uvicorn (uvloop and httptools when installed)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import load_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..config import Settings

__all__ = ["app_from_env", "check_port", "run_server", "startup_lines"]

log = logging.getLogger("tiered.server")

_CONFIG_ENV = "TIERED_CONFIG"


def app_from_env() -> Starlette:
    """An app factory for uvicorn workers: each process loads the settings itself."""
    from .app import create_app

    return create_app(load_settings(), tune_gc=True)


def check_port(host: str, port: int) -> None:
    """Raise ConfigError, with what to do, when ``host:port`` cannot be listened on: before anything starts,
    so a busy port is not reported after a "ready" line by a server that then exits."""
    import socket

    from ..errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as uvicorn binds: a port left in TIME_WAIT by a stopped proxy is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            busy = (
                "another process is listening there (a tiered proxy or demo already running?); "
                if (exc.errno == errno.EADDRINUSE)
                else ""
            )
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): {busy}pick another port with --port or "
                "TIERED_SERVER__PORT, or stop what holds it"
            ) from exc


def startup_lines(settings: Settings) -> list[str]:
    """What a person starting the proxy wants to read first: where to point clients, where the dashboard is,
    and which upstream each route will call."""
    host = settings.server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{settings.server.port}"
    lines = [f"tiered proxy on {base} (bound to {host}); dashboard {base}/dashboard"]
    for name, route in settings.routes.items():
        chain = " -> ".join(tier.model for tier in route.tiers)
        upstreams = sorted({_upstream(settings, tier.provider) for tier in route.tiers})
        lines.append(f"route {name}: {chain} via {', '.join(upstreams)}")
    return lines


def _upstream(settings: Settings, provider: str) -> str:
    configured = settings.providers.get(provider)
    return configured.base_url if configured is not None else f"{provider} (not configured)"


def run_server(settings: Settings, *, config_file: Path | None = None, workers: int = 1) -> None:
    import uvicorn

    from .protocol import TieredHttpProtocol

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the HTTP client logs every upstream request at INFO: a write per call on the hot path; alembic logs a
    # line per plugin and per step of a migration run on every start
    for noisy in ("httpx2", "httpcore2", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    check_port(settings.server.host, settings.server.port)
    for line in startup_lines(settings):
        log.info("%s", line)
    common = {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": "info",
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.server.graceful_shutdown_s),
        "timeout_keep_alive": max(1, round(settings.server.keep_alive_s)),
        "lifespan": "on",
        "server_header": False,
        # no X-Forwarded-* rewriting: nothing in tiered reads the client's address, and it costs on every request
        "proxy_headers": False,
        "http": TieredHttpProtocol,
    }
    if workers > 1:
        if config_file is not None:
            os.environ[_CONFIG_ENV] = str(config_file)
        os.environ["TIERED_SERVER__HOST"] = settings.server.host
        os.environ["TIERED_SERVER__PORT"] = str(settings.server.port)
        uvicorn.run("tiered.server.serve:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
        return
    from .app import create_app

    uvicorn.run(create_app(settings, tune_gc=True), **common)  # type: ignore[arg-type]
