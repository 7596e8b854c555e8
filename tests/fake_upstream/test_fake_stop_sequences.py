"""The fake honours ``stop_sequences`` as the Messages API does: the text ends before the first match, which
the reply reports; a triage JSON is cut too (why tiered must not send them with a triage)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.fake_upstream._fake_helpers import user

from tiered.cascade.triage import TRIAGE_INSTRUCTION, triage_schema
from tiered.fake_upstream import Scenario
from tiered.fake_upstream.anthropic_api import message_json, stream_frames
from tiered.fake_upstream.generate import Reply, build_reply
from tiered.fake_upstream.prompt import anthropic_prompt
from tiered.fake_upstream.resolve import Runtime


def reply_for(body: dict[str, Any]) -> Reply:
    scenario = Scenario()
    prompt = anthropic_prompt(body)
    return build_reply(prompt, Runtime(scenario).resolve(prompt.last_user_text, prompt.model), scenario)


def test_text_ends_at_the_first_stop_sequence() -> None:
    body = user('[[fake answer="One, two. STOP three. HALT"]] count', stop_sequences=["HALT", "STOP"])
    reply = reply_for(body)
    assert reply.text == "One, two. " and (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "STOP")
    message = message_json(reply, "claude-haiku-4-5")
    assert message["stop_reason"] == "stop_sequence" and message["stop_sequence"] == "STOP"
    last_delta = next(f.data for f in stream_frames(reply, "claude-haiku-4-5") if b"message_delta" in f.data)
    assert b'"stop_sequence":"STOP"' in last_delta


def test_no_match_and_max_tokens_report_no_stop_sequence() -> None:
    assert reply_for(user('[[fake answer="no match"]] q', stop_sequences=["zzz"])).stop_sequence is None
    cut = reply_for(user('[[fake answer="a b c d e f STOP"]] q', stop_sequences=["STOP"], max_tokens=2))
    assert (cut.stop_reason, cut.stop_sequence) == ("max_tokens", None)


def test_a_triage_sent_with_stop_sequences_is_cut_mid_json() -> None:
    body = user(
        '[[fake confidence=0.95 answer="Paris. END more"]] q',
        stop_sequences=["END"],
        system=[{"type": "text", "text": TRIAGE_INSTRUCTION}],
        output_config={"format": {"type": "json_schema", "schema": triage_schema()}},
    )
    reply = reply_for(body)
    assert reply.stop_reason == "stop_sequence"
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)
