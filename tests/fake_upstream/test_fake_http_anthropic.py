"""The Anthropic dialect over real loopback HTTP with httpx2: shapes, SSE, validation, auth, endpoints."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from tests.fake_upstream._fake_helpers import sse_events, streamed_text, triage, user

from tiered.fake_upstream import FakeUpstream, Scenario


def test_json_message_shape(http: httpx2.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/messages", json=user("Hello [[fake tokens=5]]", model="claude-opus-4-7"))
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    message = response.json()
    assert message["id"].startswith("msg_")
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", "claude-opus-4-7")
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    [block] = message["content"]
    assert block["type"] == "text" and len(block["text"].split()) == 5
    usage = message["usage"]
    assert usage["output_tokens"] == 5 and usage["input_tokens"] >= 1
    assert usage["cache_read_input_tokens"] == usage["cache_creation_input_tokens"] == 0
    [record] = fake.requests
    assert (record.path, record.status, record.is_triage, record.stream) == ("/v1/messages", 200, False, False)
    assert record.request_id == response.headers["request-id"]
    assert record.body["messages"][0]["content"].startswith("Hello")


def test_sse_stream_is_exactly_the_anthropic_sequence(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("Hi [[fake tokens=4]]", model="claude-sonnet-4-6", stream=True))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("event: message_start\ndata: {")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_") and start["model"] == "claude-sonnet-4-6"
    assert (start["content"], start["stop_reason"], start["usage"]["output_tokens"]) == ([], None, 1)
    assert start["usage"]["input_tokens"] >= 1
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert all(d["delta"]["type"] == "text_delta" for n, d in events if n == "content_block_delta")
    assert len(streamed_text(events).split()) == 4
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 4


def test_streamed_and_json_replies_agree(http: httpx2.Client) -> None:
    body = triage("What is the capital of Italy?")
    whole = http.post("/v1/messages", json=body).json()
    streamed = sse_events(http.post("/v1/messages", json={**body, "stream": True}))
    assert streamed_text(streamed) == whole["content"][0]["text"]
    assert streamed[-2][1]["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


def test_triage_structured_reply_parses_back(http: httpx2.Client, fake: FakeUpstream) -> None:
    answer = 'Rome — "la città eterna",\nwith a backslash \\ too.'
    body = triage(f"capital of Italy? [[fake confidence=0.93 answer={json.dumps(answer)}]]")
    message = http.post("/v1/messages", json=body).json()
    payload = json.loads(message["content"][0]["text"])
    assert payload == {"confidence": 0.93, "answer": answer}
    record = fake.requests[-1]
    assert (record.is_triage, record.triage_mode, record.confidence) == (True, "structured", 0.93)


def test_triage_tool_mode_streams_input_json_deltas(http: httpx2.Client, fake: FakeUpstream) -> None:
    body = triage("2+2? [[fake confidence=0.88 answer=Four.]]", mode="tool", stream=True)
    events = sse_events(http.post("/v1/messages", json=body))
    block = events[1][1]["content_block"]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "tiered_triage", {})
    assert block["id"].startswith("toolu_")
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert all(d["type"] == "input_json_delta" for d in deltas)
    assert json.loads(streamed_text(events)) == {"confidence": 0.88, "answer": "Four."}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert fake.requests[-1].triage_mode == "tool"
    whole = http.post("/v1/messages", json={**body, "stream": False}).json()
    assert whole["content"][0]["input"] == {"confidence": 0.88, "answer": "Four."}


def test_max_tokens_is_honoured(http: httpx2.Client) -> None:
    message = http.post("/v1/messages", json=user("x [[fake tokens=30]]", max_tokens=7)).json()
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 7
    events = sse_events(http.post("/v1/messages", json=user("x [[fake tokens=30]]", max_tokens=7, stream=True)))
    assert sum(1 for n, _ in events if n == "content_block_delta") == 7
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": None}, "model"),
        ({"model": 12}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": "many"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0.type"),
        ({"stream": "yes"}, "stream"),
        ({"temperature": 3}, "temperature"),
        ({"system": 5}, "system"),
        ({"tool_choice": {"type": "tool", "name": "nope"}}, "tool_choice.name"),
    ],
)
def test_invalid_requests_name_the_field(http: httpx2.Client, change: dict[str, Any], field: str) -> None:
    body: dict[str, Any] = user("hello")
    for key, value in change.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(field + ":")
    assert error["request_id"] == response.headers["request-id"]


def test_body_that_is_not_json(http: httpx2.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/messages", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.requests[-1].body == "{not json"


def test_bad_directive_is_a_400(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("x [[fake confidance=0.2]]"))
    assert response.status_code == 400
    assert "confidance" in response.json()["error"]["message"]


def test_api_key_check(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(api_key="sk-right")
    missing = http.post("/v1/messages", json=user("hi"))
    wrong = http.post("/v1/messages", json=user("hi"), headers={"x-api-key": "sk-wrong"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["request-id"]
    assert http.post("/v1/messages", json=user("hi"), headers={"x-api-key": "sk-right"}).status_code == 200
    bearer = {"authorization": "Bearer sk-right"}
    assert http.post("/v1/messages", json=user("hi"), headers=bearer).status_code == 200


def test_anthropic_version_can_be_required(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(require_anthropic_version=True)
    response = http.post("/v1/messages", json=user("hi"))
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("anthropic-version")
    ok = http.post("/v1/messages", json=user("hi"), headers={"anthropic-version": "2023-06-01"})
    assert ok.status_code == 200


def test_count_tokens(http: httpx2.Client) -> None:
    body = user("word " * 100)
    del body["max_tokens"]
    small = http.post("/v1/messages/count_tokens", json=body).json()
    assert small == {"input_tokens": 125}
    big = http.post("/v1/messages/count_tokens", json={**body, "system": "s" * 400}).json()
    assert big["input_tokens"] == 225
    assert http.post("/v1/messages/count_tokens", json={"messages": []}).status_code == 400


def test_input_tokens_match_count_tokens(http: httpx2.Client) -> None:
    body = triage("Summarise the plot of Hamlet")
    counted = http.post("/v1/messages/count_tokens", json={k: v for k, v in body.items() if k != "max_tokens"})
    message = http.post("/v1/messages", json=body).json()
    assert message["usage"]["input_tokens"] == counted.json()["input_tokens"]


def test_models_list_and_get(http: httpx2.Client, fake: FakeUpstream) -> None:
    fake.scenario = Scenario(models=("local-model",))
    listing = http.get("/v1/models", params={"limit": 1000}).json()
    ids = [m["id"] for m in listing["data"]]
    assert {"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "local-model"} <= set(ids)
    assert (listing["first_id"], listing["last_id"], listing["has_more"]) == (ids[0], ids[-1], False)
    assert all(m["type"] == "model" and m["display_name"] and m["created_at"] for m in listing["data"])
    page = http.get("/v1/models", params={"limit": 2}).json()
    assert len(page["data"]) == 2 and page["has_more"]
    after = http.get("/v1/models", params={"after_id": page["last_id"], "limit": 1000}).json()
    assert [m["id"] for m in page["data"] + after["data"]] == ids
    assert http.get("/v1/models/claude-opus-4-7").json()["display_name"] == "Claude Opus 4.7"
    assert http.get("/v1/models/claude-nope").status_code == 404


def test_unknown_route_is_a_404_in_the_error_shape(http: httpx2.Client) -> None:
    response = http.get("/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_control_endpoints(http: httpx2.Client, fake: FakeUpstream) -> None:
    http.post("/v1/messages", json=triage("hello"))
    log = http.get("/_fake/requests").json()
    assert [(r["path"], r["is_triage"]) for r in log] == [("/v1/messages", True)]
    scenario = {"rules": [{"contains": "hello", "confidence": 0.42, "answer": "hi"}]}
    assert http.put("/_fake/scenario", json=scenario).status_code == 200
    assert fake.scenario.rules[0].confidence == 0.42
    assert http.get("/_fake/scenario").json()["rules"][0]["answer"] == "hi"
    text = http.post("/v1/messages", json=triage("hello")).json()["content"][0]["text"]
    assert json.loads(text) == {"confidence": 0.42, "answer": "hi"}
    assert http.put("/_fake/scenario", json={"rules": [{"confidence": 7}]}).status_code == 400
    assert http.post("/_fake/reset").json() == {"reset": True}
    assert http.get("/_fake/requests").json() == []
    assert http.get("/_fake/health").json()["status"] == "ok"
