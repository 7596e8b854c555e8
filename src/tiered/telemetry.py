"""OpenTelemetry spans for each request and each upstream call, through ``opentelemetry-api`` only.

Spans are built from the finished :class:`~tiered.decision.Decision` after the fact, with explicit start and
end times, so the router carries no tracing code. Without an OpenTelemetry SDK configured in the process the
API's tracer is a no-op and this costs almost nothing; with one, spans go wherever the SDK exports them.

* the request span ``tiered <route>`` (kind INTERNAL), child of whatever span was current when the request
  ended (a server span from ASGI instrumentation, if any), with ``tiered.*`` attributes: decision id, route,
  answering model and tier, escalated, reason, confidence, threshold, cost and counterfactual cost;
* one child span per attempt, ``chat <model>`` (kind CLIENT), with the GenAI semantic-convention attributes
  (``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.response.id``,
  ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` (cache included),
  ``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens``,
  ``gen_ai.usage.cache_creation.input_tokens``, ``error.type``) and ``tiered.attempt.*`` ones.

The decision keeps each attempt's duration, not its start: attempts are laid end to end from the request's
start, which is how the cascade runs them (a triage call, then the next tier).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer

    from .decision import Attempt, Decision

__all__ = ["emit_decision_spans", "tracer"]

INSTRUMENTATION = "tiered"


def tracer() -> Tracer:
    from opentelemetry import trace

    return trace.get_tracer(INSTRUMENTATION)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _default_provider(model: str) -> str:
    name, sep, _ = model.partition(":")
    return name if sep else "anthropic"


def _request_attributes(decision: Decision) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "tiered.decision_id": decision.id,
        "tiered.route": decision.route or "passthrough",
        "tiered.escalated": decision.escalated,
        "tiered.passthrough": decision.passthrough,
        "tiered.stream": decision.stream,
        "tiered.attempts": len(decision.attempts),
    }
    optional = {
        "tiered.answered_by": decision.answered_by,
        "tiered.answer_tier": decision.answer_tier,
        "tiered.reason": decision.reason.value if decision.reason is not None else None,
        "tiered.confidence": decision.confidence,
        "tiered.threshold": decision.threshold,
        "tiered.cost_usd": decision.cost_usd,
        "tiered.counterfactual_cost_usd": decision.counterfactual_cost_usd,
        "error.type": "upstream_error" if decision.error is not None else None,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    return attrs


def _attempt_attributes(attempt: Attempt, provider: str) -> dict[str, Any]:
    usage = attempt.usage
    model = attempt.model.partition(":")[2] or attempt.model
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": usage.total_input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_input_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_input_tokens,
        "tiered.attempt.tier": attempt.tier,
        "tiered.attempt.role": attempt.role.value,
        "tiered.attempt.outcome": attempt.outcome.value,
        "tiered.attempt.stream_aborted": attempt.stream_aborted,
    }
    optional = {
        "gen_ai.response.id": attempt.request_id,
        "gen_ai.response.finish_reasons": [attempt.stop_reason] if attempt.stop_reason else None,
        "tiered.attempt.confidence": attempt.confidence,
        "tiered.attempt.reason": attempt.reason.value if attempt.reason is not None else None,
        "tiered.attempt.cost_usd": attempt.cost_usd,
        "tiered.attempt.first_token_ms": attempt.first_token_ms,
        "http.response.status_code": attempt.status,
        "error.type": (str(attempt.status) if attempt.status else "upstream_error") if attempt.error else None,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    return attrs


def emit_decision_spans(
    decision: Decision,
    *,
    tracer_: Tracer | None = None,
    context: Context | None = None,
    provider_name: Callable[[str], str] | None = None,
) -> None:
    """Emit the request span and its attempt spans for ``decision`` (a no-op without an SDK).

    ``context`` is the parent context (captured when the request ended); ``provider_name`` maps a tier's
    model to its provider's ``gen_ai.provider.name`` (default: the ``provider:`` prefix, else anthropic).
    """
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    if tracer_ is None and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return  # no SDK configured: the spans would record nothing, and making them costs per decision
    active = tracer_ if tracer_ is not None else tracer()
    start = _ns(decision.created_at.timestamp())
    end = start + _ns(decision.latency_ms / 1000)
    span = active.start_span(
        f"tiered {decision.route or 'passthrough'}", context=context, kind=SpanKind.INTERNAL, start_time=start
    )
    if not span.is_recording():
        span.end(end_time=end)
        return
    span.set_attributes(_request_attributes(decision))
    if decision.error is not None:
        span.set_status(Status(StatusCode.ERROR, decision.error[:200]))
    parent = trace.set_span_in_context(span, context)
    provider = provider_name or _default_provider
    cursor = start
    for attempt in decision.attempts:
        attempt_end = min(end, cursor + _ns(attempt.latency_ms / 1000))
        model = attempt.model.partition(":")[2] or attempt.model
        child = active.start_span(f"chat {model}", context=parent, kind=SpanKind.CLIENT, start_time=cursor)
        child.set_attributes(_attempt_attributes(attempt, provider(attempt.model)))
        if attempt.error is not None:
            child.set_status(Status(StatusCode.ERROR, attempt.error[:200]))
        child.end(end_time=attempt_end)
        cursor = attempt_end
    span.end(end_time=end)
