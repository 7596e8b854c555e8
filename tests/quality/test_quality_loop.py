"""The quality loop never fails or blocks the request path: it only queues, and counts what goes wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import escalated, shipped, wait_for

from tiered.config import Settings, load_settings
from tiered.quality.loop import QualityLoop
from tiered.router import Exchange, Router
from tiered.store.privacy import ContentReason

EXCHANGE = Exchange({"messages": [{"role": "user", "content": "Capital of France?"}]}, "Paris")


def settings(**overrides: Any) -> Settings:
    return load_settings(environ={}, overrides=overrides)


def failures(loop: QualityLoop, component: str) -> float:
    return float(loop.metrics.quality_failures.labels(component=component)._value.get())


def test_content_for_audit_picks_and_store_content(engine: Engine) -> None:
    loop = QualityLoop(settings(**{"routes.default.audit_rate": 1.0}), Router(settings()), engine=engine)
    content = loop.content_for(shipped("d1"), EXCHANGE)
    assert content is not None and content.reason is ContentReason.AUDIT and content.answer_text == "Paris"
    assert "Capital of France?" in (content.request_text or "")
    assert loop.samples is not None and loop.samples.stats().waiting == 1
    assert loop.content_for(escalated("d2"), EXCHANGE) is None  # not a shipped answer
    keep_all = QualityLoop(settings(**{"store_content": True}), Router(settings()), engine=engine)
    kept = keep_all.content_for(escalated("d3"), EXCHANGE)
    assert kept is not None and kept.reason is ContentReason.STORE_CONTENT
    without_store = QualityLoop(settings(**{"routes.default.audit_rate": 1.0}), Router(settings()))
    assert without_store.content_for(shipped("d4"), EXCHANGE) is None  # no store: nothing to sample into


def test_request_path_never_raises(engine: Engine) -> None:
    loop = QualityLoop(settings(**{"quality.queue_size": 1}), Router(settings()))
    loop.observe(shipped("a"), EXCHANGE)
    loop.observe(shipped("b"), EXCHANGE)  # the queue is full (no thread started): skipped and counted
    assert loop.metrics.quality_dropped._value.get() == 1
    broken = Exchange({"messages": object()}, None)
    sampled = QualityLoop(settings(**{"store_content": True}), Router(settings()))
    assert sampled.content_for(shipped("c"), broken) is not None  # odd requests are still kept as text
    picky = QualityLoop(settings(), Router(settings()), engine=engine)
    picky.observe(None, EXCHANGE)  # type: ignore[arg-type]
    assert failures(picky, "observe") == 1
    assert picky.content_for(None, EXCHANGE) is None  # type: ignore[arg-type]
    assert failures(picky, "sampler") == 1


def test_background_failures_are_counted(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = QualityLoop(settings(**{"routes.default.audit_rate": 1.0}), Router(settings()), engine=engine).start()
    try:

        def boom(decision: object) -> None:
            raise RuntimeError("metrics broke")

        monkeypatch.setattr(loop.metrics, "observe", boom)
        loop.observe(shipped("x"), EXCHANGE)
        assert loop.drain()
        assert failures(loop, "metrics") == 1
        assert loop.window.rates("default").decisions == 1  # the other consumers still ran
        assert loop.samples is not None
        loop.samples.add(loop.sampler.pick(shipped("y")), shipped("y").created_at)  # type: ignore[arg-type]
        engine.dispose()
        monkeypatch.setattr(loop.samples, "_engine", None)  # the database is gone
        loop.flush_samples()
        assert failures(loop, "samples") == 1
    finally:
        loop.close()


def test_samples_get_their_rows_once_the_decision_is_stored(engine: Engine) -> None:
    from tests.quality._quality_helpers import store

    from tiered.store.grades import pending_audits

    loop = QualityLoop(settings(**{"routes.default.audit_rate": 1.0}), Router(settings()), engine=engine)
    decision = shipped("late")
    assert loop.content_for(decision, EXCHANGE) is not None
    loop.flush_samples()
    assert pending_audits(engine) == []  # the writer has not stored the decision yet
    store(engine, decision)
    loop.on_persisted(["late"], "db")
    loop.flush_samples()
    (item,) = pending_audits(engine)
    assert (item.decision_id, item.probability) == ("late", 1.0)
    assert loop.samples is not None and loop.samples.stats().recorded == 1


def test_threads_stop_on_close() -> None:
    loop = QualityLoop(settings(**{"alerts.check_interval_s": 0.01}), Router(settings())).start()
    wait_for(lambda: loop.rounds > 3, what="maintenance rounds")
    loop.close()
    assert loop._threads == []
