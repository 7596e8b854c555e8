"""The quality loop beside the proxy: one object that the server opens on start and closes on shutdown.

On the request path it does two cheap things and nothing else: :meth:`QualityLoop.content_for` (asked by the
decision store before it queues a decision) runs the audit sampler and returns the text to keep for a picked
request, and :meth:`QualityLoop.observe` (a router observer) puts the decision on a bounded queue. Neither
blocks, neither raises; a full queue skips the decision for metrics and alerts and counts it.

Everything else runs in background:

* the *events* thread takes decisions off the queue: Prometheus counters and histograms, the alert windows,
  OpenTelemetry spans;
* the *maintenance* thread runs the periodic jobs: audit-sample rows (as soon as the writer reports a batch
  committed), the threshold sync (every ``quality.poll_interval_s``), the threshold controller and the
  false-confident gauges (every ``quality.controller_interval_s``), the alert rules (every
  ``alerts.check_interval_s``);
* the judge worker runs on the server's event loop (:meth:`run_judge`), where the providers live.

Failures are logged and counted (``tiered_quality_failures_total{component}``), and never reach a caller.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

from tiered.inbox import Inbox
from tiered.metrics import Metrics
from tiered.store.privacy import Content, ContentReason

from .alerts import AlertManager, AlertSink, LogSink, WebhookSink
from .sampler import AuditPick, AuditSampler
from .transcript import request_text
from .windows import DecisionWindow

if TYPE_CHECKING:
    from prometheus_client.core import Metric
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.decision import Decision
    from tiered.economics.advisor import Economics
    from tiered.router import Exchange, Router
    from tiered.store.writer import WriterStats

    from .alerts import Alert
    from .controller import ThresholdController
    from .explore import Explorer
    from .judge_worker import JudgeWorker
    from .samples import SampleRecorder
    from .shadow import ShadowObserver
    from .stats import FalseConfidentSummary
    from .thresholds import ThresholdSync

__all__ = ["QualityLoop"]

log = logging.getLogger("tiered.quality")

SAMPLE_FLUSH_S = 1.0
SUMMARY_REFRESH_S = 30.0
_Item = tuple["Decision", AuditPick | None, Any]


class QualityLoop:
    def __init__(
        self,
        settings: Settings,
        router: Router,
        *,
        engine: Engine | None = None,
        metrics: Metrics | None = None,
        writer_stats: Callable[[], WriterStats] | None = None,
        sinks: Sequence[AlertSink] | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.engine = engine
        self.metrics = metrics if metrics is not None else Metrics()
        self._writer_stats = writer_stats
        self.enabled = settings.quality.enabled
        self.sampler = AuditSampler(settings)
        self.window = DecisionWindow(settings.alerts.window_s, settings.alerts.window_decisions)
        if sinks is None:
            url = settings.alerts.webhook_url
            timeout = settings.alerts.webhook_timeout_s
            sinks = [LogSink()] + ([WebhookSink(url.get_secret_value(), timeout_s=timeout)] if url else [])
        self.alerts = AlertManager(
            settings.alerts,
            engine,
            sinks,
            on_failure=lambda what: self._failure(f"alerts_{what}"),
            on_fired=self._fired,
        )
        self.samples: SampleRecorder | None = None
        self.controller: ThresholdController | None = None
        self.sync: ThresholdSync | None = None
        self.judge: JudgeWorker | None = None
        self.shadow: ShadowObserver | None = None
        self.explorer: Explorer | None = None  # exploration in live mode
        if engine is not None and self.enabled:
            from .controller import ThresholdController
            from .judge_worker import JudgeWorker, judge_enabled
            from .samples import SampleRecorder
            from .thresholds import ThresholdSync

            self.samples = SampleRecorder(engine)
            self.controller = ThresholdController(settings, engine)
            self.sync = ThresholdSync(settings, router, engine)
            if judge_enabled(settings):
                self.judge = JudgeWorker(settings, router, engine, self.metrics)
            self._background_triages(settings, router, engine, judging=judge_enabled(settings))
        self.summaries: dict[str, FalseConfidentSummary] = {}
        self._queue: Inbox[_Item] = Inbox(settings.quality.queue_size, poll_s=0.02)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._enqueued = self._processed = 0
        self.rounds = 0  # maintenance rounds completed (tests wait on it)
        self.controller_runs = 0
        self.metrics.add_state(self._state_metrics)

    def _background_triages(self, settings: Settings, router: Router, engine: Engine, *, judging: bool) -> None:
        """Shadow mode's observer and live mode's explorer (which the runner hands escalated triages to)."""
        from .explore import Explorer, explore_enabled
        from .shadow import ShadowObserver, shadow_enabled

        if shadow_enabled(settings):
            self.shadow = ShadowObserver(settings, router, engine, judging=judging)
        if explore_enabled(settings):
            self.explorer = Explorer(settings, router, engine, judging=judging)
            router.set_explorer(self.explorer)

    # -- the request path: cheap, never raises -----------------------------------------------------------

    def content_for(self, decision: Decision, exchange: Exchange) -> Content | None:
        """The text the store keeps with ``decision``: for an audit pick, or for all with ``store_content``."""
        try:
            pick = self._pick(decision)
            if pick is not None:
                assert self.samples is not None
                self.samples.add(pick, decision.created_at)
                reason = ContentReason.AUDIT
            elif self.settings.store_content:
                reason = ContentReason.STORE_CONTENT
            else:
                return None
            return Content(request_text(exchange.request), exchange.answer_text, reason)
        except Exception:
            self._failure("sampler")
            log.exception("the audit sampler failed on %s", getattr(decision, "id", "?"))
            return None

    def _pick(self, decision: Decision) -> AuditPick | None:
        if self.samples is None:
            return None
        return self.sampler.pick(decision)

    def observe(self, decision: Decision, exchange: Exchange) -> None:
        """Router observer: queue the decision for the background thread (and a shadow pick for its triage)."""
        for observer in (self.shadow, self.explorer):
            if observer is not None:
                observer.offer(decision, exchange)
        try:
            pick = self.sampler.pick(decision) if self.samples is not None else None
            self._queue.put_nowait((decision, pick, otel_context.get_current()))
            with self._cond:
                self._enqueued += 1
        except queue.Full:
            self.metrics.quality_dropped.inc()
        except Exception:
            self._failure("observe")
            log.exception("the quality loop could not queue %s", getattr(decision, "id", "?"))

    def on_persisted(self, ids: Sequence[str], where: str) -> None:
        """Writer hook (its thread): a batch is committed, so waiting audit samples can get their rows."""
        if where == "db" and self.samples is not None and self.samples.stats().waiting:
            self._wake.set()

    # -- lifetime ------------------------------------------------------------------------------------------

    def prime(self) -> None:
        """Apply the recorded thresholds once, before the proxy serves (a restart resumes at once)."""
        if self.sync is None:
            return
        try:
            self.sync.poll()
        except Exception as exc:
            self._failure("thresholds")
            log.warning("could not read the recorded thresholds yet (%s: %s); retrying", type(exc).__name__, exc)

    def start(self) -> QualityLoop:
        for name, target in (("events", self._events), ("maintenance", self._maintenance)):
            thread = threading.Thread(target=target, name=f"tiered-quality-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    async def run_judge(self) -> None:
        """Run the judge worker, the shadow observer and the explorer on the current event loop until cancelled
        (returns at once without any)."""
        import anyio

        async with anyio.create_task_group() as group:
            for worker in (self.judge, self.shadow, self.explorer):
                if worker is not None:
                    group.start_soon(worker.run)

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every decision queued so far has been processed (tests, shutdown)."""
        with self._cond:
            target = self._enqueued
            return self._cond.wait_for(lambda: self._processed >= target, timeout)

    def flush_samples(self) -> None:
        """Write the rows of audit samples whose decisions are stored (also called once more on shutdown)."""
        if self.samples is None:
            return
        try:
            if self.samples.flush() and self.judge is not None:
                self.judge.wake()
        except Exception as exc:
            self._failure("samples")
            log.warning("could not record audit samples yet (%s: %s); retrying", type(exc).__name__, exc)

    # -- background threads ------------------------------------------------------------------------------

    def _events(self) -> None:
        from tiered.telemetry import emit_decision_spans

        while not (self._stop.is_set() and self._queue.empty()):
            try:
                decision, pick, context = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            for component in ("metrics", "window", "telemetry"):
                try:
                    if component == "metrics":
                        self.metrics.observe(decision)
                    elif component == "window":
                        self.window.add(decision)
                    else:
                        emit_decision_spans(decision, context=context)
                except Exception:
                    self._failure(component)
                    log.exception("quality loop: %s failed on %s", component, getattr(decision, "id", "?"))
            if pick is not None:
                self.metrics.audit_samples.labels(route=pick.route, sampler=pick.sampler).inc()
            with self._cond:
                self._processed += 1
                self._cond.notify_all()

    def _jobs(self) -> list[tuple[str, float, Callable[[], None]]]:
        q, a = self.settings.quality, self.settings.alerts
        jobs: list[tuple[str, float, Callable[[], None]]] = [("samples", SAMPLE_FLUSH_S, self.flush_samples)]
        if self.sync is not None:
            jobs.append(("thresholds", q.poll_interval_s, self._poll_thresholds))
        if self.controller is not None:
            jobs.append(("controller", q.controller_interval_s, self.run_controller))
            jobs.append(("summaries", min(SUMMARY_REFRESH_S, q.controller_interval_s), self.refresh_summaries))
        if a.enabled:
            jobs.append(("alerts", a.check_interval_s, lambda: self.alerts.check_window(self.window)))
        return jobs

    def _maintenance(self) -> None:
        jobs = self._jobs()
        due = dict.fromkeys((name for name, _, _ in jobs), 0.0)
        while not self._stop.is_set():
            now = time.monotonic()
            for name, interval, job in jobs:
                if now >= due[name]:
                    due[name] = now + interval
                    try:
                        job()
                    except Exception:
                        self._failure(name)
                        log.exception("quality loop: the %s job failed; it runs again in %.1fs", name, interval)
            self.rounds += 1
            wait = max(0.0, min(due.values()) - time.monotonic())
            if self._wake.wait(min(wait, 1.0)):
                self._wake.clear()
                due["samples"] = 0.0

    def _poll_thresholds(self) -> None:
        assert self.sync is not None
        self.sync.poll()

    def run_controller(self) -> None:
        """Evaluate every route once: record threshold changes, apply them, alert on false-confident rates."""
        assert self.controller is not None
        min_grades = self.settings.quality.min_grades
        changed = False
        for result in self.controller.evaluate_all():
            summary = result.summary
            if result.change is not None:
                changed = True
                log.warning("route %s: %s", result.route, result.change.reason)
            if self.settings.alerts.enabled and self.settings.alerts.false_confident:
                # Too few grades since the last raise say nothing either way: the alert stays as it is, so
                # it stays open through the raises and at the ceiling (docs/quality.md), not "resolved" as soon
                # as a raise restarts the evidence.
                firing = summary.over_target if summary.n >= min_grades else None
                self.alerts.update(
                    "false_confident",
                    result.route,
                    firing,
                    f"false-confident upper bound {summary.upper_bound:.3f} over target {summary.target} "
                    f"({summary.wrong} wrong of {summary.n} graded; threshold {result.step.new:.3g})",
                    {"summary": summary.to_dict(), "action": result.step.action},
                    "warning",
                )
        for result in self.controller.evaluate_slices():
            if result.change is not None:
                changed = True
                log.warning("route %s, slice %s: %s", result.route, result.slice, result.change.reason)
        if changed and self.sync is not None:
            self.sync.poll()
        self.controller_runs += 1

    def refresh_summaries(self) -> None:
        """The false-confident gauges: every configured route over its window."""
        from .stats import route_summary

        assert self.engine is not None
        for route in self.settings.routes:
            summary = route_summary(self.engine, self.settings, route)
            self.summaries[route] = summary
            self.metrics.set_false_confident(route, summary.rate, summary.upper_bound, summary.target, summary.n)

    # -- helpers -------------------------------------------------------------------------------------------

    def _failure(self, component: str) -> None:
        try:
            self.metrics.quality_failures.labels(component=component).inc()
        except Exception:
            log.exception("could not count a quality-loop failure")

    def _fired(self, alert: Alert) -> None:
        self.metrics.alerts.labels(kind=alert.kind, route=alert.route or "").inc()

    def _state_metrics(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        threshold = GaugeMetricFamily("tiered_threshold", "Threshold in force per route.", labels=["route"])
        for route in self.settings.routes:
            threshold.add_metric([route], self.router.route_settings(route).threshold)
        yield threshold
        yield CounterMetricFamily(
            "tiered_observer_failures", "Decision observers that raised.", value=self.router.observer_failures
        )
        yield GaugeMetricFamily("tiered_quality_queue_depth", "Decisions waiting.", value=self._queue.qsize())
        yield from _economics_metrics(self.router.deps.economics)
        for name, observer in (("shadow", self.shadow), ("explore", self.explorer)):
            if observer is not None:
                family = CounterMetricFamily(
                    f"tiered_{name}_requests",
                    f"{name.capitalize()} picks by fate (offered, recorded, capped, failed...).",
                    labels=["result"],
                )
                for result, value in sorted(observer.counts.items()):
                    family.add_metric([result], value)
                yield family
        if self.samples is not None:
            stats = self.samples.stats()
            yield GaugeMetricFamily("tiered_audit_samples_waiting", "Picks awaiting their row.", value=stats.waiting)
        if self._writer_stats is not None:
            writer = self._writer_stats()
            yield GaugeMetricFamily("tiered_store_queue_depth", "Decisions queued.", value=writer.queue_depth)
            yield GaugeMetricFamily(
                "tiered_store_database_up", "1 when the database accepts writes.", value=int(writer.database_available)
            )
            states = CounterMetricFamily("tiered_store_decisions", "Decisions by fate.", labels=["state"])
            for state in ("submitted", "written", "spooled", "replayed", "dropped", "rejected"):
                states.add_metric([state], getattr(writer, state))
            yield states


def _economics_metrics(economics: Economics | None) -> Iterable[Metric]:
    """The shared economics state (Redis, when ``TIERED_REDIS_URL`` is set): up or not, and its failures."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from tiered.economics.cache_state import RedisStore

    if economics is None or not economics.shared:
        return
    yield GaugeMetricFamily(
        "tiered_economics_shared_state_up",
        "1 while the shared economics state (Redis) answers; 0: this replica decides from its own state.",
        value=int(economics.healthy),
    )
    failures = economics.store.failures if isinstance(economics.store, RedisStore) else 0
    yield CounterMetricFamily(
        "tiered_economics_shared_state_failures", "Shared economics state (Redis) calls that failed.", value=failures
    )
