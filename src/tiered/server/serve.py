"""Running the proxy under uvicorn (uvloop and httptools when installed)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import load_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..config import Settings

__all__ = ["app_from_env", "run_server"]

_CONFIG_ENV = "TIERED_CONFIG"


def app_from_env() -> Starlette:
    """An app factory for uvicorn workers: each process loads the settings itself."""
    from .app import create_app

    return create_app(load_settings(), tune_gc=True)


def run_server(settings: Settings, *, config_file: Path | None = None, workers: int = 1) -> None:
    import uvicorn

    from .protocol import BoundedHttpToolsProtocol

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the HTTP client logs every upstream request at INFO: a write per call on the hot path
    for noisy in ("httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
        "http": BoundedHttpToolsProtocol,
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
