"""Alerts: escalation storms, upstream error rates and false-confident rates over target.

An alert is *firing* while its condition holds. It is sent once when it starts firing (de-duplication), and
the same kind of alert for the same route is not sent again within ``alerts.cooldown_s`` of the last one,
even if the condition flaps (a condition back within the cool-down reopens the alert this replica stored
instead, so the table never shows "resolved" while the condition holds). Across replicas sharing a database,
the ``alerts`` table de-duplicates too: an alert is stored (and sent) only if no replica stored the same kind
and route within the cool-down. When the condition clears, the stored alert gets its ``resolved_at``; when the
evidence cannot tell (``firing=None``: too few grades since a threshold change, say), the alert stays as it
is, open or not.

Sinks: a structured log line (logger ``tiered.alerts``, the alert as JSON) and, when ``alerts.webhook_url``
is set, a JSON POST with a Slack-compatible ``text``. A failing sink is counted and logged, never raised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from .thresholds import advisory_lock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .settings import AlertSettings
    from .windows import DecisionWindow

__all__ = [
    "Alert",
    "AlertManager",
    "AlertSink",
    "LogSink",
    "StoredAlert",
    "WebhookSink",
    "list_alerts",
    "mask_url",
]

log = logging.getLogger("tiered.alerts")

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # escalation_storm, upstream_errors, false_confident
    route: str | None
    severity: Severity
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "route": self.route,
            "severity": self.severity,
            "message": self.message,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None: ...


class LogSink:
    def send(self, alert: Alert) -> None:
        log.warning("alert %s", json.dumps(alert.to_dict(), sort_keys=True, default=str))


def mask_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries carry tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<webhook>"
    return f"{parts.scheme}://{parts.hostname or '?'}/…" if parts.scheme else "<webhook>"


class WebhookSink:
    """POSTs ``{"text": ..., "alert": {...}}``; Slack (and Mattermost, Teams' Slack mode) show ``text``."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout_s

    def send(self, alert: Alert) -> None:
        import httpx2

        where = f"{alert.route} " if alert.route else ""
        payload = {"text": f":rotating_light: tiered {where}{alert.kind}: {alert.message}", "alert": alert.to_dict()}
        try:
            response = httpx2.post(self._url, json=payload, timeout=self._timeout)
        except Exception as exc:
            raise RuntimeError(f"webhook {mask_url(self._url)} failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise RuntimeError(f"webhook {mask_url(self._url)} answered {response.status_code}")


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    kind: str
    route: str | None
    severity: str
    message: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None


class AlertManager:
    """Fires, de-duplicates, stores and resolves alerts; call it from one background thread."""

    def __init__(
        self,
        settings: AlertSettings,
        engine: Engine | None,
        sinks: Sequence[AlertSink],
        *,
        clock: Callable[[], float] = time.monotonic,
        on_failure: Callable[[str], None] | None = None,
        on_fired: Callable[[Alert], None] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._sinks = list(sinks)
        self._clock = clock
        self._on_failure = on_failure
        self._on_fired = on_fired
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str | None], int | None] = {}  # firing -> stored id (None: not stored here)
        self._last_sent: dict[tuple[str, str | None], float] = {}
        self._last_stored: dict[tuple[str, str | None], int] = {}
        self.fired: list[Alert] = []

    def update(
        self,
        kind: str,
        route: str | None,
        firing: bool | None,
        message: str,
        details: dict[str, Any],
        severity: Severity,
    ) -> Alert | None:
        """Report whether ``kind`` on ``route`` is firing now (``None``: cannot tell, leave it as it is);
        returns the alert when it was sent."""
        key = (kind, route)
        with self._lock:
            if firing is None:
                return None
            if not firing:
                if key in self._active:
                    self._resolve(self._active.pop(key))
                return None
            if key in self._active:
                return None
            now = self._clock()
            last = self._last_sent.get(key)
            if last is not None and now - last < self._settings.cooldown_s:
                # not sent again, but not shown as resolved either: the stored alert is open once more
                reopened = self._last_stored.get(key)
                self._active[key] = reopened if reopened is not None and self._reopen(reopened) else None
                return None
            alert = Alert(kind, route, severity, message, details)
            stored_id = self._store(alert)
            self._active[key] = stored_id
            if stored_id == -1:
                return None  # another replica sent it within the cool-down
            if stored_id is not None:
                self._last_stored[key] = stored_id
            self._last_sent[key] = now
            self.fired.append(alert)
        for sink in self._sinks:
            try:
                sink.send(alert)
            except Exception as exc:
                self._failed("sink", f"alert sink {type(sink).__name__} failed: {exc}")
        if self._on_fired is not None:
            self._on_fired(alert)
        return alert

    def check_window(self, window: DecisionWindow) -> None:
        """The escalation-storm and upstream-error rules over each route's sliding window."""
        cfg = self._settings
        span = f"{cfg.window_s:g}s/{cfg.window_decisions}"
        for route in window.routes():
            rates = window.rates(route)
            esc = rates.escalation_rate
            storm = esc is not None and rates.decisions >= cfg.min_decisions and esc > cfg.escalation_rate
            self.update(
                "escalation_storm",
                route,
                storm,
                f"{esc or 0:.0%} of the last {rates.decisions} decisions escalated (alert above "
                f"{cfg.escalation_rate:.0%}, window {span})",
                {"escalation_rate": esc, "decisions": rates.decisions, "escalated": rates.escalated},
                "warning",
            )
            err = rates.error_rate
            errors = err is not None and rates.attempts >= cfg.min_decisions and err > cfg.error_rate
            self.update(
                "upstream_errors",
                route,
                errors,
                f"{err or 0:.0%} of the last {rates.attempts} upstream calls failed (alert above "
                f"{cfg.error_rate:.0%}, window {span})",
                {"error_rate": err, "attempts": rates.attempts, "errors": rates.errors},
                "critical",
            )

    def _failed(self, what: str, message: str) -> None:
        log.error(message)
        if self._on_failure is not None:
            self._on_failure(what)

    def _store(self, alert: Alert) -> int | None:
        """The stored id; -1 when a replica stored the same alert within the cool-down; None when not stored."""
        if self._engine is None:
            return None
        import sqlalchemy as sa

        from tiered.store.schema import alerts

        since = alert.created_at - timedelta(seconds=self._settings.cooldown_s)
        try:
            with self._engine.connect() as conn, conn.begin() as txn:
                advisory_lock(conn, f"tiered-alert:{alert.kind}:{alert.route}")
                key = conn.execute(
                    sa.insert(alerts).values(
                        kind=alert.kind,
                        route=alert.route,
                        severity=alert.severity,
                        message=alert.message,
                        details=alert.details,
                        created_at=alert.created_at,
                    )
                ).inserted_primary_key
                assert key is not None
                new_id = int(key[0])
                route_match = alerts.c.route.is_(None) if alert.route is None else alerts.c.route == alert.route
                earlier = conn.execute(
                    sa.select(sa.func.count()).where(
                        alerts.c.kind == alert.kind, route_match, alerts.c.id < new_id, alerts.c.created_at >= since
                    )
                ).scalar_one()
                if earlier:
                    txn.rollback()
                    return -1
                return new_id
        except Exception as exc:
            self._failed("store", f"could not store alert {alert.kind}: {type(exc).__name__}: {exc}")
            return None

    def _reopen(self, stored_id: int) -> bool:
        if self._engine is None:
            return False
        import sqlalchemy as sa

        from tiered.store.schema import alerts

        try:
            with self._engine.begin() as conn:
                conn.execute(sa.update(alerts).where(alerts.c.id == stored_id).values(resolved_at=None))
        except Exception as exc:
            self._failed("store", f"could not reopen alert {stored_id}: {type(exc).__name__}: {exc}")
            return False
        return True

    def _resolve(self, stored_id: int | None) -> None:
        if self._engine is None or stored_id is None or stored_id < 0:
            return
        import sqlalchemy as sa

        from tiered.store.schema import alerts

        try:
            with self._engine.begin() as conn:
                conn.execute(sa.update(alerts).where(alerts.c.id == stored_id).values(resolved_at=datetime.now(UTC)))
        except Exception as exc:
            self._failed("store", f"could not resolve alert {stored_id}: {type(exc).__name__}: {exc}")


def list_alerts(
    engine: Engine, *, since: datetime | None = None, route: str | None = None, limit: int = 50
) -> list[StoredAlert]:
    """Stored alerts, newest first."""
    import sqlalchemy as sa

    from tiered.store.schema import alerts

    query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(alerts.c.created_at >= since)
    if route is not None:
        query = query.where(alerts.c.route == route)
    with engine.connect() as conn:
        return [
            StoredAlert(
                id=int(r.id),
                kind=r.kind,
                route=r.route,
                severity=r.severity,
                message=r.message,
                details=r.details if isinstance(r.details, dict) else {},
                created_at=r.created_at,
                resolved_at=r.resolved_at,
            )
            for r in conn.execute(query)
        ]
