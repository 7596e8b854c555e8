from __future__ import annotations

import json
from typing import Any

import pytest

from tiered.cascade.policy import Reply, Step, TriageRead, cascade, classify, early_read, judge, read_triage_response
from tiered.cascade.stream_parse import TriageStreamParser
from tiered.cascade.triage import TRIAGE_INSTRUCTION, TRIAGE_TOOL_NAME, build_triage_request
from tiered.config import RouteSettings
from tiered.decision import AttemptRole, EscalationReason

TWO = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})
THREE = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]})


def request(**extra: Any) -> dict[str, Any]:
    return {"model": "tiered", "max_tokens": 256, "messages": [{"role": "user", "content": "2+2?"}], **extra}


def reply_text(text: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "stop_reason": stop_reason}


def run(req: dict[str, Any], route: RouteSettings, replies: list[Reply]) -> tuple[list[Any], Step]:
    plan = cascade(req, route)
    calls = [next(plan)]
    feed = iter(replies)
    while True:
        try:
            calls.append(plan.send(next(feed)))
        except StopIteration as stop:
            return calls, stop.value


def triage(conf: float | None, answer: Any = "4") -> Reply:
    return Reply(triage=read_triage_response(reply_text(json.dumps({"confidence": conf, "answer": answer}))))


def test_ship_in_one_call() -> None:
    calls, step = run(request(), TWO, [triage(0.93)])
    assert len(calls) == 1 and calls[0].role is AttemptRole.TRIAGE
    assert step.kind == "ship" and step.tier == 0


def test_escalate_replays_original_with_only_model_changed() -> None:
    req = request(system="be brief", temperature=0.2, metadata={"user_id": "u1"})
    calls, step = run(req, TWO, [triage(0.3, None), Reply()])
    assert step.kind == "final" and step.reason is EscalationReason.LOW_CONFIDENCE
    final = calls[1]
    assert final.role is AttemptRole.FINAL
    # opus-4-7 rejects temperature: the one documented rewrite
    assert final.rewrites == ("drop:temperature",)
    assert {k: v for k, v in final.body.items() if k != "model"} == {
        k: v for k, v in req.items() if k not in ("model", "temperature")
    }
    assert final.body["model"] == "claude-opus-4-7"


def test_three_tier_escalates_one_hop_at_a_time() -> None:
    calls, step = run(request(), THREE, [triage(0.2), triage(0.95)])
    assert [c.model for c in calls] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert step.kind == "ship" and step.tier == 1
    calls, step = run(request(), THREE, [triage(0.2), triage(0.5), Reply()])
    assert [c.model for c in calls] == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
    assert calls[2].role is AttemptRole.FINAL and step.kind == "final"


def test_each_verdict_names_its_tier_and_the_threshold_it_was_judged_against() -> None:
    route = THREE.model_copy(update={"threshold": 0.7})
    route = route.model_copy(update={"tiers": (route.tiers[0].model_copy(update={"threshold": 0.9}), *route.tiers[1:])})
    _, step = run(request(), route, [triage(0.85), Reply(error=True), Reply()])
    first, second = step.verdicts
    assert (first.tier, first.threshold, first.confidence, first.score) == (0, 0.9, 0.85, 0.85)
    assert first.reason is EscalationReason.LOW_CONFIDENCE
    # a failed call is not judged on a confidence, but still says which tier and threshold it stood for
    assert (second.tier, second.threshold, second.confidence, second.score) == (1, 0.7, None, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (reply_text("I think it's 4"), EscalationReason.INVALID_OUTPUT),
        (reply_text('{"answer": "4"}'), EscalationReason.INVALID_OUTPUT),
        (reply_text('{"confidence": 7, "answer": "4"}'), EscalationReason.INVALID_OUTPUT),
        (reply_text('{"confidence": "NaN", "answer": "4"}'), EscalationReason.INVALID_OUTPUT),
        (reply_text('{"confidence": 0.99, "answer": null}'), EscalationReason.NO_ANSWER),
        (reply_text('{"confidence": 0.99, "answer": "  "}'), EscalationReason.NO_ANSWER),
        (reply_text('{"confidence": 0.5, "answer": "4"}'), EscalationReason.LOW_CONFIDENCE),
        (reply_text('{"confidence": 0.99, "ans', "max_tokens"), EscalationReason.TRUNCATED),
        (reply_text("", "refusal"), EscalationReason.REFUSAL),
        ({"content": "oops"}, EscalationReason.INVALID_OUTPUT),
    ],
)
def test_every_broken_triage_escalates_with_its_reason(body: dict[str, Any], reason: EscalationReason) -> None:
    calls, step = run(request(), TWO, [Reply(triage=read_triage_response(body)), Reply()])
    assert step.kind == "final"
    assert step.reason is reason
    assert len(calls) == 2


def test_upstream_error_escalates() -> None:
    calls, step = run(request(), TWO, [Reply(error=True), Reply()])
    assert step.reason is EscalationReason.UPSTREAM_ERROR and step.kind == "final"
    calls, step = run(request(), TWO, [Reply(error=True), Reply(error=True)])
    assert step.kind == "failed"


def test_tool_mode_reply_is_read_from_the_tool_input() -> None:
    body = {
        "content": [
            {"type": "tool_use", "name": TRIAGE_TOOL_NAME, "id": "t", "input": {"confidence": 0.9, "answer": "4"}}
        ],
        "stop_reason": "tool_use",
    }
    assert read_triage_response(body) == TriageRead(confidence=0.9, answer_kind="string", answer="4")


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({}, "plain"),
        ({"tools": [{"name": "t", "input_schema": {"type": "object"}}]}, "tools"),
        ({"tools": [{"name": "t"}], "tool_choice": {"type": "any"}}, "protocol"),
        ({"tools": [{"name": "t"}], "tool_choice": {"type": "tool", "name": "t"}}, "protocol"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "protocol"),
        ({"thinking": {"type": "disabled"}}, "plain"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{"}]}, "protocol"),
    ],
)
def test_classify(extra: dict[str, Any], kind: str) -> None:
    assert classify(request(**extra)) == kind


def test_protocol_requests_never_get_a_triage() -> None:
    req = request(tools=[{"name": "t"}], tool_choice={"type": "any"})
    calls, step = run(req, TWO, [Reply()])
    assert [c.role for c in calls] == [AttemptRole.FINAL]
    assert calls[0].model == "claude-opus-4-7" and step.reason is EscalationReason.POLICY
    cheap = TWO.model_copy(update={"protocol_requests": "first"})
    calls, step = run(req, cheap, [Reply()])
    assert calls[0].model == "claude-haiku-4-5" and calls[0].body == {**req, "model": "claude-haiku-4-5"}


def test_tool_requests_policy() -> None:
    req = request(tools=[{"name": "t", "input_schema": {"type": "object"}}])
    calls, _ = run(req, TWO, [triage(0.95)])
    assert calls[0].role is AttemptRole.TRIAGE and calls[0].body["tool_choice"] == {"type": "none"}
    final_route = TWO.model_copy(update={"tool_requests": "final"})
    calls, _ = run(req, final_route, [Reply()])
    assert calls[0].role is AttemptRole.FINAL and calls[0].model == "claude-opus-4-7"


def test_triage_request_keeps_caller_and_appends_instruction() -> None:
    req = request(
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        temperature=0.1,
        stop_sequences=["END"],
    )
    body = build_triage_request(req, "claude-haiku-4-5")
    assert body["system"][0] == req["system"][0]
    assert body["system"][-1] == {"type": "text", "text": TRIAGE_INSTRUCTION}
    assert body["messages"] == req["messages"] and body["temperature"] == 0.1
    assert "stop_sequences" not in body  # applied to the decoded answer instead (tiered.cascade.stop_sequences)
    schema = body["output_config"]["format"]["schema"]
    assert list(schema["properties"]) == ["confidence", "answer"]
    assert "2+2" not in TRIAGE_INSTRUCTION and req["system"][0]["text"] not in body["system"][-1]["text"]
    assert "output_config" not in req  # the caller's request is not modified


def test_caller_schema_becomes_the_answer_schema() -> None:
    caller = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    req = request(output_config={"format": {"type": "json_schema", "schema": caller}, "effort": "low"})
    # a first tier that takes effort (Haiku 4.5 does not: such a request is not triaged there, see test_routing)
    sonnet_first = RouteSettings.model_validate({"tiers": ["claude-sonnet-4-6", "claude-opus-4-7"]})
    calls, step = run(req, sonnet_first, [triage(0.9, {"n": 4})])
    assert calls[0].structured_answer
    answer_schema = calls[0].body["output_config"]["format"]["schema"]["properties"]["answer"]
    assert answer_schema == {"anyOf": [caller, {"type": "null"}]}
    assert calls[0].body["output_config"]["effort"] == "low"
    tool_body = build_triage_request(req, "m", "tool")
    assert tool_body["output_config"] == {"effort": "low"}
    assert tool_body["tool_choice"]["name"] == TRIAGE_TOOL_NAME


def test_calibration_changes_the_score_not_the_confidence() -> None:
    read = TriageRead(confidence=0.9, answer_kind="string", answer="x")
    verdict = judge(read, 0.8, calibrate=lambda c: c - 0.3)
    assert not verdict.ship and verdict.confidence == 0.9 and verdict.score == pytest.approx(0.6)


def test_early_read_decides_at_the_right_moment() -> None:
    parser = TriageStreamParser()
    parser.feed('{"confidence": 0.3')
    assert early_read(parser, "", 0.8) is None
    parser.feed(",")
    read = early_read(parser, "", 0.8)
    assert read is not None and judge(read, 0.8).reason is EscalationReason.LOW_CONFIDENCE

    parser = TriageStreamParser()
    parser.feed('{"confidence": 0.9, "answer": "')
    assert early_read(parser, "", 0.8) is None  # nothing visible yet
    parser.feed("  ")
    assert early_read(parser, parser.take_answer(), 0.8) is None
    parser.feed("Four")
    read = early_read(parser, "  Four", 0.8)
    assert read is not None and judge(read, 0.8).ship

    parser = TriageStreamParser()
    parser.feed('{"confidence": 0.95, "answer": null')
    read = early_read(parser, "", 0.8)
    assert read is not None and judge(read, 0.8).reason is EscalationReason.NO_ANSWER

    parser = TriageStreamParser()
    parser.feed("Sure")
    read = early_read(parser, "", 0.8)
    assert read is not None and judge(read, 0.8).reason is EscalationReason.INVALID_OUTPUT
