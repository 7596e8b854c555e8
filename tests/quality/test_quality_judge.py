"""The judge's contract, its spend cap and claims, and the fake upstream answering it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import shipped

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.quality.judge import JUDGE_SCHEMA, JudgeOutputError, judge_request, parse_verdict
from tiered.quality.judge_worker import JudgeWorker, judge_enabled, judge_model
from tiered.quality.sampler import AuditPick
from tiered.quality.samples import SampleRecorder
from tiered.quality.transcript import parse_request_text, request_text
from tiered.router import Router
from tiered.store.grades import pending_audits, record_grade
from tiered.store.privacy import Content, ContentReason
from tiered.store.records import insert_records, to_record
from tiered.store.schema import GradeVerdict


def reply(text: str, stop: str = "end_turn") -> dict[str, object]:
    return {"content": [{"type": "text", "text": text}], "stop_reason": stop}


def test_parse_verdict() -> None:
    parsed = parse_verdict(reply('{"reason": "  fine ", "verdict": "correct"}'))
    assert (parsed.verdict, parsed.reason) == (GradeVerdict.CORRECT, "fine")
    for bad in ("not json", '["correct"]', '{"verdict": "maybe", "reason": ""}'):
        with pytest.raises(JudgeOutputError):
            parse_verdict(reply(bad))
    with pytest.raises(JudgeOutputError, match="refusal"):
        parse_verdict(reply('{"verdict": "correct", "reason": ""}', stop="refusal"))


def test_judge_request_shape() -> None:
    stored = parse_request_text(
        request_text({"system": "Be brief.", "messages": [{"role": "user", "content": "2+2?"}]})
    )
    body = judge_request("claude-opus-4-7", stored, "4", max_tokens=300)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": JUDGE_SCHEMA}}
    assert list(JUDGE_SCHEMA["properties"]) == ["reason", "verdict"]  # explain, then decide
    text = body["messages"][0]["content"]
    assert "<conversation>\n[system]\nBe brief.\n\n[user]\n2+2?\n</conversation>" in text
    assert "<answer>\n4\n</answer>" in text
    assert "2+2?" not in body["system"]  # the caller's text never goes into the instruction


def test_judge_model_and_enabled() -> None:
    plain = load_settings(environ={})
    assert judge_model(plain, "default") == "claude-opus-4-7" and judge_model(plain, "nope") is None
    assert not judge_enabled(plain)  # auto, and no key: a pass-through proxy has none of its own
    keyed = load_settings(environ={"ANTHROPIC_API_KEY": "sk-ant-test-123456789"})
    assert judge_enabled(keyed)
    assert judge_enabled(load_settings(environ={}, overrides={"judge.enabled": "on"}))
    assert not judge_enabled(load_settings(environ={"ANTHROPIC_API_KEY": "k"}, overrides={"judge.enabled": "off"}))
    custom = load_settings(environ={}, overrides={"judge.model": "openai:gpt-4o"})
    assert judge_model(custom, "default") == "openai:gpt-4o"


def audited(engine: Engine, *idents: str) -> None:
    recorder = SampleRecorder(engine)
    content = Content(request_text({"messages": [{"role": "user", "content": "2+2?"}]}), "4", ContentReason.AUDIT)
    with engine.begin() as conn:
        insert_records(conn, [to_record(shipped(i), content, timedelta(days=1)) for i in idents])
    for ident in idents:
        recorder.add(AuditPick(ident, "default", 0.5, "uniform", 1.0), shipped(ident).created_at)
    assert recorder.flush() == len(idents)


def settings_with(**overrides: object) -> Settings:
    return load_settings(environ={}, overrides={"judge.enabled": "on", **overrides})


def test_spend_cap_and_claims(engine: Engine) -> None:
    audited(engine, "a1", "a2", "a3")
    settings = settings_with(**{"judge.spend_cap_usd": 0.5})
    router = Router(settings)
    first, second = JudgeWorker(settings, router, engine), JudgeWorker(settings, router, engine)
    claimed = first._claim(2)
    assert [c.decision_id for c in claimed] == ["a1", "a2"]
    assert [c.decision_id for c in second._claim(5)] == ["a3"]  # a claimed sample is not claimed twice
    assert second._claim(5) == []
    first._release("a1")
    record_grade(engine, "a2", "correct", "judge", cost_usd=0.6)  # spent over the cap
    assert first.spent() == pytest.approx(0.6)
    assert first._claim(5) == []  # capped: a1 waits for people
    assert [a.decision_id for a in pending_audits(engine)] == ["a1"]


@pytest.mark.anyio
async def test_the_fake_upstream_answers_a_judge_request() -> None:
    """Unscripted, the fake's judge reply is a verdict that fits the schema; a scripted one is used as is."""
    with FakeUpstream(Scenario()) as fake:
        settings = load_settings(environ={"ANTHROPIC_BASE_URL": fake.url}, overrides={"judge.enabled": "on"})
        router = Router(settings)
        try:
            provider = router.upstreams.provider("anthropic")
            stored = parse_request_text(request_text({"messages": [{"role": "user", "content": "Capital of France?"}]}))
            response = await provider.send(judge_request("claude-opus-4-7", stored, "Paris", max_tokens=200))
            assert parse_verdict(response.body).verdict in set(GradeVerdict)
            wrong = json.dumps({"reason": "no", "verdict": "incorrect"})
            scripted = parse_request_text(
                request_text({"messages": [{"role": "user", "content": f"Q [[fake opus:answer={json.dumps(wrong)}]]"}]})
            )
            response = await provider.send(judge_request("claude-opus-4-7", scripted, "A", max_tokens=200))
            assert parse_verdict(response.body).verdict is GradeVerdict.INCORRECT
            (judged,) = [r for r in fake.requests if r.model == "claude-opus-4-7"][-1:]
            assert judged.is_triage is False
        finally:
            await router.aclose()
