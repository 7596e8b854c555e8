"""OpenTelemetry spans from a decision: GenAI semantic-convention attributes, explicit times, a no-op
without an SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AnyValue
from tests.quality._quality_helpers import escalated, shipped

from tiered.telemetry import emit_decision_spans


class FakeSpan(trace.NonRecordingSpan):
    """Records what is set on it (a real SDK is not a dependency of tiered)."""

    def __init__(self, name: str, context: Any, kind: SpanKind, start_time: int) -> None:
        super().__init__(trace.INVALID_SPAN_CONTEXT)
        self.name, self.parent, self.kind, self.start = name, trace.get_current_span(context), kind, start_time
        self.attributes: dict[str, Any] = {}
        self.status: Any = None
        self.end_time: int | None = None

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        self.attributes.update(attributes)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self.status = status

    def end(self, end_time: int | None = None) -> None:
        self.end_time = end_time


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[FakeSpan] = []

    def start_span(
        self, name: str, context: Any = None, kind: SpanKind = SpanKind.INTERNAL, start_time: int = 0
    ) -> FakeSpan:
        span = FakeSpan(name, context, kind, start_time)
        self.spans.append(span)
        return span


def test_request_and_attempt_spans() -> None:
    tracer = FakeTracer()
    decision = escalated("dec_1", error=True)
    emit_decision_spans(decision, tracer_=tracer)  # type: ignore[arg-type]
    request, triage, final = tracer.spans
    assert request.name == "tiered default" and request.kind is SpanKind.INTERNAL
    assert request.attributes["tiered.decision_id"] == "dec_1" and request.attributes["tiered.escalated"] is True
    assert request.attributes["tiered.reason"] == "upstream_error"
    start = int(decision.created_at.timestamp() * 1e9)
    assert request.start == start and request.end_time == start + int(decision.latency_ms * 1e6)
    assert triage.parent is request and final.parent is request
    assert triage.name == "chat claude-haiku-4-5" and triage.kind is SpanKind.CLIENT
    assert triage.attributes["gen_ai.operation.name"] == "chat"
    assert triage.attributes["gen_ai.provider.name"] == "anthropic"
    assert triage.attributes["gen_ai.request.model"] == "claude-haiku-4-5"
    assert triage.attributes["error.type"] == "529" and triage.status.status_code is StatusCode.ERROR
    assert final.attributes["gen_ai.usage.input_tokens"] == 100 and final.attributes["gen_ai.usage.output_tokens"] == 80
    # attempts are laid end to end inside the request
    assert final.end_time is not None and request.end_time is not None  # both spans were ended
    assert triage.start == start and final.start == triage.end_time and final.end_time <= request.end_time


def test_shipped_answer_attributes() -> None:
    tracer = FakeTracer()
    emit_decision_spans(shipped("dec_2", confidence=0.93), tracer_=tracer, provider_name=lambda m: "aws.bedrock")  # type: ignore[arg-type]
    request, triage = tracer.spans
    assert request.attributes["tiered.confidence"] == 0.93 and request.attributes["tiered.threshold"] == 0.8
    assert triage.attributes["gen_ai.response.id"] == "req_dec_2"
    assert triage.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert triage.attributes["tiered.attempt.outcome"] == "shipped"
    assert triage.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert request.status is None


def test_no_sdk_is_a_no_op() -> None:
    emit_decision_spans(shipped("dec_3"))  # the API's default tracer: nothing recorded, nothing raised
    assert not trace.get_tracer("tiered").start_span("x").is_recording()


def test_a_configured_global_provider_gets_the_spans(monkeypatch: Any) -> None:
    """Without ``tracer_``, the spans go to the global provider once an SDK has set one (and are skipped, for
    their cost, while the API's default proxy stands in)."""
    tracer = FakeTracer()

    class Provider(trace.TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            return tracer

    emit_decision_spans(shipped("dec_4"))
    assert tracer.spans == []
    monkeypatch.setattr(trace, "get_tracer_provider", Provider)
    monkeypatch.setattr(trace, "get_tracer", lambda *args, **kwargs: tracer)
    emit_decision_spans(shipped("dec_4"))
    assert [span.name for span in tracer.spans] == ["tiered default", "chat claude-haiku-4-5"]
