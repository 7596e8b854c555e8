"""What ``tiered serve`` asks of uvicorn: the settings that shape every connection."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.config import Settings
from tiered.server import serve


def test_serve_passes_the_connection_settings_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options, app=app))
    settings = Settings.model_validate({"server": {"port": 9123, "keep_alive_s": 120, "graceful_shutdown_s": 7}})
    serve.run_server(settings)
    assert seen["port"] == 9123 and seen["host"] == "127.0.0.1"
    # idle client connections outlive the SDKs' own pools (5 s): no request is sent on a closing connection
    assert seen["timeout_keep_alive"] == 120 and seen["timeout_graceful_shutdown"] == 7
    assert seen["proxy_headers"] is False and seen["server_header"] is False and seen["access_log"] is False
    assert Settings().server.keep_alive_s > 5
