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


def test_serve_settles_the_heap_once_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from tiered.server import app as app_module

    asked: dict[str, Any] = {}
    real = app_module.create_app
    monkeypatch.setattr(app_module, "create_app", lambda settings, **kw: asked.update(kw) or real(settings, **kw))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    serve.run_server(Settings())
    assert asked == {"tune_gc": True}


@pytest.fixture
def gc_state() -> Any:
    import gc

    threshold = gc.get_threshold()
    yield gc
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_heap_freezes_what_start_up_built_and_collects_less_often(gc_state: Any) -> None:
    from tiered.server.app import YOUNG_COLLECTION_THRESHOLD, settle_heap

    gc_state.set_threshold(700, 10, 10)
    kept: list[list[object]] = [[] for _ in range(10)]  # alive at start-up: frozen
    settle_heap()
    assert gc_state.get_freeze_count() >= len(kept)
    assert gc_state.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
    # a cycle made afterwards is still collected
    cycle: list[Any] = []
    cycle.append(cycle)
    del cycle
    assert gc_state.collect() >= 1


def test_settle_heap_leaves_a_disabled_collector_threshold_alone(gc_state: Any) -> None:
    from tiered.server.app import settle_heap

    gc_state.set_threshold(0, 10, 10)
    settle_heap()
    assert gc_state.get_threshold() == (0, 10, 10)
