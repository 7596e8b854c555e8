"""Prometheus metrics, on a registry of their own per app (never the process-global default registry).

Counters and histograms are updated from decisions by the quality loop's thread (off the request path);
gauges that describe state (thresholds, the false-confident rate, the decision store) are read when scraped,
through the callbacks given to :meth:`Metrics.add_state`. Label values are bounded by the configuration
(routes, tiers, models, enums), never by request content or keys.

Names follow the Prometheus conventions (base units, ``_total`` counters):

* ``tiered_requests_total{route,kind,result}``, ``tiered_decisions_total{route,tier,outcome,reason,escalated}``
* ``tiered_attempts_total{route,tier,model,role,outcome}``, ``tiered_upstream_errors_total{route,model,status}``
* ``tiered_triage_rejected_total{route,model,status}``: triage calls the upstream refused (a 4xx: the request
  escalated with ``cheap_tier_rejected``; these never open a circuit, see :mod:`tiered.health`)
* ``tiered_confidence{route,tier}`` (histogram of triage confidences)
* ``tiered_cost_usd_total{route,model}``, ``tiered_counterfactual_cost_usd_total{route}``,
  ``tiered_cache_penalty_usd_total{route}`` (the cascade's cold final-tier cache, inside the actual cost),
  ``tiered_tokens_total{route,model,kind}``
* ``tiered_request_duration_seconds{route,stream}``, ``tiered_triage_duration_seconds{route,model}``,
  ``tiered_time_to_first_token_seconds{route,model}``
* ``tiered_grades_total{route,verdict,grader_kind}``, ``tiered_audit_samples_total{route,sampler}``,
  ``tiered_judge_calls_total{result}``, ``tiered_judge_cost_usd_total``, ``tiered_alerts_total{kind,route}``
* ``tiered_false_confident_rate{route}``, ``tiered_false_confident_upper_bound{route}``,
  ``tiered_false_confident_target{route}``, ``tiered_false_confident_graded{route}``, ``tiered_threshold{route}``
* ``tiered_store_queue_depth``, ``tiered_store_decisions_total{state}``, ``tiered_store_database_up``,
  ``tiered_quality_failures_total{component}``, ``tiered_quality_dropped_total``,
  ``tiered_observer_failures_total``
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from .decision import AttemptRole, EscalationReason, Outcome

if TYPE_CHECKING:
    from .decision import Attempt, Decision

__all__ = ["Metrics", "decision_outcome"]

CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)
_MAX_CHILDREN = 4096
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


def decision_outcome(decision: Decision) -> str:
    """``shipped``, ``escalated``, ``answered``, ``passthrough`` or ``failed`` (as ``tiered report``)."""
    if decision.passthrough:
        return "passthrough"
    if decision.error is not None:
        return "failed"
    if any(a.outcome is Outcome.SHIPPED for a in decision.attempts):
        return "shipped"
    return "escalated" if decision.escalated else "answered"


class _State(Collector):
    def __init__(self, source: Callable[[], Iterable[Metric]]) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return list(self._source())


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.registry = reg
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        self._add_routing(reg)
        self._add_usage(reg)
        self._add_quality(reg)

    def _add_routing(self, reg: CollectorRegistry) -> None:
        """What each request did: its decision, its upstream calls, their failures and the triage confidence."""
        self.requests = Counter(
            "tiered_requests", "Requests by route, kind and result.", ["route", "kind", "result"], registry=reg
        )
        self.decisions = Counter(
            "tiered_decisions",
            "Decisions by route, answering tier, outcome and escalation reason.",
            ["route", "tier", "outcome", "reason", "escalated"],
            registry=reg,
        )
        self.attempts = Counter(
            "tiered_attempts", "Upstream calls.", ["route", "tier", "model", "role", "outcome"], registry=reg
        )
        self.upstream_errors = Counter(
            "tiered_upstream_errors", "Failed upstream calls.", ["route", "model", "status"], registry=reg
        )
        self.triage_rejected = Counter(
            "tiered_triage_rejected",
            "Triage calls the upstream refused with a 4xx (escalated as cheap_tier_rejected; not a health failure).",
            ["route", "model", "status"],
            registry=reg,
        )
        self.confidence = Histogram(
            "tiered_confidence",
            "Confidence reported by triage calls.",
            ["route", "tier"],
            buckets=CONFIDENCE_BUCKETS,
            registry=reg,
        )

    def _add_usage(self, reg: CollectorRegistry) -> None:
        """What requests cost (dollars, tokens) and how long they took."""
        self.cost = Counter("tiered_cost_usd", "Actual cost in US dollars.", ["route", "model"], registry=reg)
        self.counterfactual = Counter(
            "tiered_counterfactual_cost_usd",
            "What the route's final tier alone would have cost, in US dollars.",
            ["route"],
            registry=reg,
        )
        self.cache_penalty = Counter(
            "tiered_cache_penalty_usd",
            "What the cascade's cold final-tier prompt cache cost over the final tier alone, in US dollars.",
            ["route"],
            registry=reg,
        )
        self.tokens = Counter("tiered_tokens", "Tokens by kind.", ["route", "model", "kind"], registry=reg)
        self.duration = Histogram(
            "tiered_request_duration_seconds",
            "Total time per request.",
            ["route", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.triage_duration = Histogram(
            "tiered_triage_duration_seconds",
            "Time of triage calls (until read or cut off).",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.ttft = Histogram(
            "tiered_time_to_first_token_seconds",
            "Time to the first token of streamed calls.",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )

    def _add_quality(self, reg: CollectorRegistry) -> None:
        """The quality loop's own: grades, audit samples, the judge, alerts and the false-confident rate."""
        self.grades = Counter(
            "tiered_grades", "Grades recorded by this process.", ["route", "verdict", "grader_kind"], registry=reg
        )
        self.audit_samples = Counter(
            "tiered_audit_samples", "Shipped answers picked for audit.", ["route", "sampler"], registry=reg
        )
        self.judge_calls = Counter("tiered_judge_calls", "Judge worker rounds by result.", ["result"], registry=reg)
        self.judge_cost = Counter("tiered_judge_cost_usd", "What the judge spent, in US dollars.", registry=reg)
        self.alerts = Counter("tiered_alerts", "Alerts sent by this process.", ["kind", "route"], registry=reg)
        self.quality_failures = Counter(
            "tiered_quality_failures",
            "Failures in the quality loop (never seen by callers).",
            ["component"],
            registry=reg,
        )
        self.quality_dropped = Counter(
            "tiered_quality_dropped", "Decisions the quality loop skipped because its queue was full.", registry=reg
        )
        self.fc_rate = Gauge("tiered_false_confident_rate", "False-confident rate.", ["route"], registry=reg)
        self.fc_bound = Gauge(
            "tiered_false_confident_upper_bound",
            "One-sided upper bound of the false-confident rate.",
            ["route"],
            registry=reg,
        )
        self.fc_target = Gauge("tiered_false_confident_target", "max_false_confident.", ["route"], registry=reg)
        self.fc_graded = Gauge(
            "tiered_false_confident_graded", "Graded answers in the window.", ["route"], registry=reg
        )

    def add_state(self, source: Callable[[], Iterable[Metric]]) -> None:
        """Register metrics computed at scrape time (e.g. from ``writer.stats()``)."""
        self.registry.register(_State(source))

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, looked up in a dict: ``labels()`` checks and converts its arguments on
        every call, which was most of the cost of recording a decision."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _MAX_CHILDREN:  # bounded, whatever the label values
                self._children.clear()
            child = self._children[key] = metric.labels(*values)
        return child

    def observe(self, decision: Decision) -> None:
        child = self._child
        route = decision.route or "passthrough"
        outcome = decision_outcome(decision)
        child(
            self.requests,
            route,
            "passthrough" if decision.passthrough else "routed",
            "error" if decision.error is not None else "ok",
        ).inc()
        child(
            self.decisions,
            route,
            str(decision.answer_tier) if decision.answer_tier is not None else "none",
            outcome,
            decision.reason.value if decision.reason is not None else "",
            "true" if decision.escalated else "false",
        ).inc()
        child(self.duration, route, "true" if decision.stream else "false").observe(decision.latency_ms / 1000)
        if decision.counterfactual_cost_usd is not None:
            child(self.counterfactual, route).inc(decision.counterfactual_cost_usd)
        if decision.cache_penalty_usd:
            child(self.cache_penalty, route).inc(decision.cache_penalty_usd)
        for attempt in decision.attempts:
            self._attempt(route, attempt)

    def _attempt(self, route: str, attempt: Attempt) -> None:
        child = self._child
        model = attempt.model
        tier = str(attempt.tier)
        child(self.attempts, route, tier, model, attempt.role.value, attempt.outcome.value).inc()
        if attempt.outcome is Outcome.ERROR:
            status = str(attempt.status) if attempt.status is not None else "none"
            child(self.upstream_errors, route, model, status).inc()
            if attempt.reason is EscalationReason.CHEAP_TIER_REJECTED:
                child(self.triage_rejected, route, model, status).inc()
        if attempt.cost_usd:
            child(self.cost, route, model).inc(attempt.cost_usd)
        usage = attempt.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_input_tokens),
            ("cache_creation", usage.cache_creation_input_tokens),
        ):
            if count:
                child(self.tokens, route, model, kind).inc(count)
        if attempt.role is AttemptRole.TRIAGE:
            child(self.triage_duration, route, model).observe(attempt.latency_ms / 1000)
            if attempt.confidence is not None:
                child(self.confidence, route, tier).observe(attempt.confidence)
        if attempt.first_token_ms is not None:
            child(self.ttft, route, model).observe(attempt.first_token_ms / 1000)

    def observe_grade(self, route: str, verdict: str, grader_kind: str) -> None:
        self.grades.labels(route=route or "passthrough", verdict=verdict, grader_kind=grader_kind).inc()

    def set_false_confident(
        self, route: str, rate: float | None, bound: float, target: float | None, graded: int
    ) -> None:
        self.fc_rate.labels(route=route).set(rate if rate is not None else float("nan"))
        self.fc_bound.labels(route=route).set(bound)
        if target is not None:
            self.fc_target.labels(route=route).set(target)
        self.fc_graded.labels(route=route).set(graded)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
