"""Alert rules, de-duplication, cool-down, storage across replicas, and the sinks."""

from __future__ import annotations

import logging

import pytest
from _quality_helpers import escalated, shipped
from _webhook import WebhookReceiver
from sqlalchemy.engine import Engine

from tiered.quality.alerts import Alert, AlertManager, LogSink, WebhookSink, list_alerts, mask_url
from tiered.quality.settings import AlertSettings
from tiered.quality.windows import DecisionWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Alert] = []
        self.fail = fail

    def send(self, alert: Alert) -> None:
        if self.fail:
            raise RuntimeError("sink down")
        self.sent.append(alert)


def test_window_is_the_fewer_of_time_and_count() -> None:
    clock = Clock()
    window = DecisionWindow(300, 10, clock=clock)
    for i in range(8):
        window.add(shipped(f"s{i}"))
    for i in range(6):
        window.add(escalated(f"e{i}", error=i < 2))
    rates = window.rates("default")
    assert (rates.decisions, rates.escalated) == (10, 6)  # the last 10 decisions
    assert rates.errors == 2 and rates.attempts == 4 + 12
    clock.now += 301
    assert window.rates("default").decisions == 0  # older than 5 minutes
    assert window.rates("nothing").escalation_rate is None


def test_dedup_cooldown_and_resolution() -> None:
    clock = Clock()
    sink = Sink()
    manager = AlertManager(AlertSettings(cooldown_s=600), None, [sink], clock=clock)
    fire = lambda firing: manager.update("escalation_storm", "default", firing, "m", {}, "warning")  # noqa: E731
    assert fire(True) is not None
    assert fire(True) is None  # still firing: not sent again
    fire(False)  # resolved
    clock.now += 60
    assert fire(True) is None  # flapping inside the cool-down
    fire(False)
    clock.now += 600
    assert fire(True) is not None  # after the cool-down
    assert manager.update("escalation_storm", "other", True, "m", {}, "warning") is not None  # per route
    assert len(sink.sent) == 3


def test_rules_over_the_window() -> None:
    sink = Sink()
    manager = AlertManager(AlertSettings(min_decisions=10, escalation_rate=0.35, error_rate=0.2), None, [sink])
    window = DecisionWindow(300, 500)
    for i in range(4):
        window.add(escalated(f"x{i}", error=True))
    manager.check_window(window)
    assert sink.sent == []  # fewer decisions (and calls) than min_decisions
    for i in range(6):
        window.add(escalated(f"e{i}"))
    for i in range(10):
        window.add(shipped(f"s{i}"))
    manager.check_window(window)
    (storm,) = sink.sent
    assert storm.kind == "escalation_storm" and storm.details["escalation_rate"] == 0.5
    assert "50% of the last 20 decisions escalated" in storm.message
    for i in range(10):
        window.add(escalated(f"y{i}", error=True))
    manager.check_window(window)
    assert [a.kind for a in sink.sent] == ["escalation_storm", "upstream_errors"]
    assert sink.sent[1].details["errors"] == 14 and sink.sent[1].severity == "critical"


def test_a_failing_sink_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[str] = []
    good = Sink()
    manager = AlertManager(AlertSettings(), None, [Sink(fail=True), good], on_failure=failures.append)
    assert manager.update("upstream_errors", None, True, "m", {}, "critical") is not None
    assert failures == ["sink"] and len(good.sent) == 1


def test_stored_once_across_replicas(engine: Engine) -> None:
    first = AlertManager(AlertSettings(cooldown_s=600), engine, [Sink()])
    second = AlertManager(AlertSettings(cooldown_s=600), engine, [Sink()])
    assert first.update("escalation_storm", "default", True, "storm", {"x": 1}, "warning") is not None
    assert second.update("escalation_storm", "default", True, "storm", {"x": 1}, "warning") is None
    (stored,) = list_alerts(engine)
    assert (stored.kind, stored.route, stored.details, stored.resolved_at) == (
        "escalation_storm",
        "default",
        {"x": 1},
        None,
    )
    first.update("escalation_storm", "default", False, "", {}, "warning")
    (resolved,) = list_alerts(engine)
    assert resolved.resolved_at is not None


def test_webhook_and_log_sinks(caplog: pytest.LogCaptureFixture) -> None:
    alert = Alert("escalation_storm", "default", "warning", "62% escalated", {"escalation_rate": 0.62})
    with WebhookReceiver() as receiver:
        WebhookSink(receiver.url).send(alert)
        (post,) = receiver.posts
        assert post["path"] == "/hooks/T000/secret-token"
        assert post["body"]["text"].startswith(":rotating_light: tiered default escalation_storm: 62% escalated")
        assert post["body"]["alert"]["details"] == {"escalation_rate": 0.62}
    with WebhookReceiver(status=500) as broken, pytest.raises(RuntimeError) as failed:
        WebhookSink(broken.url).send(alert)
    assert "secret-token" not in str(failed.value) and "500" in str(failed.value)
    assert mask_url("https://hooks.slack.com/services/T0/B0/xyz") == "https://hooks.slack.com/…"
    with caplog.at_level(logging.WARNING, logger="tiered.alerts"):
        LogSink().send(alert)
    assert '"kind": "escalation_storm"' in caplog.text


def test_the_false_confident_alert_stays_open_until_the_evidence_clears_it(engine: Engine) -> None:
    """docs/quality.md: the controller holds at the ceiling and "the false-confident alert tells people". After a
    raise the evidence starts again from nothing (only answers shipped at the new threshold count): too few
    grades say nothing either way, so the alert stays open; at the ceiling, still over target, it stays open;
    only enough grades within target resolve it."""
    from _quality_helpers import store

    from tiered.config import load_settings
    from tiered.quality.loop import QualityLoop
    from tiered.router import Router
    from tiered.store.grades import record_grade

    s = load_settings(
        overrides={"quality.min_grades": 10, "routes.default.threshold_ceiling": 0.85, "alerts.cooldown_s": 3600}
    )
    sink = Sink()
    loop = QualityLoop(s, Router(s), engine=engine, sinks=[sink])

    def graded(prefix: str, n: int, wrong: int, threshold: float) -> None:
        store(engine, *(shipped(f"{prefix}{i}", threshold=threshold) for i in range(n)))
        for i in range(n):
            record_grade(engine, f"{prefix}{i}", "incorrect" if i < wrong else "correct", "judge")

    def open_alerts() -> list[bool]:
        return [a.resolved_at is None for a in list_alerts(engine) if a.kind == "false_confident"]

    graded("a", 20, 5, 0.8)
    loop.run_controller()  # over target at 0.8: raised to the ceiling 0.85, and people are told
    assert len(sink.sent) == 1 and open_alerts() == [True]
    loop.run_controller()  # nothing graded at 0.85 yet: not a reason to resolve
    assert open_alerts() == [True]
    graded("b", 12, 4, 0.85)
    loop.run_controller()  # at the ceiling, still over target: the alert is how people learn it
    assert open_alerts() == [True] and len(sink.sent) == 1
    graded("c", 200, 0, 0.85)
    loop.run_controller()  # enough grades within target at the ceiling: resolved
    assert open_alerts() == [False]
    graded("d", 200, 60, 0.85)
    loop.run_controller()  # over target again within the cool-down: not sent again, but open, not "resolved"
    assert open_alerts() == [True] and len(sink.sent) == 1
