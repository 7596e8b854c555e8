"""Every scripted fault, over real HTTP."""

from __future__ import annotations

import json

import httpx2
import pytest
from tests.fake_upstream._fake_helpers import sse_events, streamed_text, triage, user

from tiered.fake_upstream import FakeUpstream, Fault, Rule, Scenario


@pytest.mark.parametrize(
    ("fault", "status", "error_type", "should_retry"),
    [
        ("rate_limit", 429, "rate_limit_error", "true"),
        ("overloaded", 529, "overloaded_error", "true"),
        ("api_error", 500, "api_error", None),
        ("unavailable", 503, "api_error", None),
        ("gateway_timeout", 504, "timeout_error", None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_status_faults(
    http: httpx2.Client, fault: str, status: int, error_type: str, should_retry: str | None, stream: bool
) -> None:
    response = http.post("/v1/messages", json=user(f"x [[fake fault={fault}]]", stream=stream))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == error_type
    assert error["request_id"] == response.headers["request-id"]
    assert response.headers.get("x-should-retry") == should_retry


def test_rate_limit_retry_after_headers(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("x [[fake fault=429 retry_after=2.5]]"))
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"


def test_custom_fault_message(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user('x [[fake fault=500 message="disk on fire"]]'))
    assert response.json()["error"]["message"] == "disk on fire"


def test_fault_on_first_calls_only(http: httpx2.Client, fake: FakeUpstream) -> None:
    statuses = [http.post("/v1/messages", json=user("x [[fake fault=529 times=2]]")).status_code for _ in range(4)]
    assert statuses == [529, 529, 200, 200]
    fake.reset()  # counters start over
    assert http.post("/v1/messages", json=user("x [[fake fault=529 times=2]]")).status_code == 529


def test_model_scoped_fault(http: httpx2.Client) -> None:
    text = "x [[fake haiku:fault=overloaded]]"
    assert http.post("/v1/messages", json=user(text, model="claude-haiku-4-5")).status_code == 529
    assert http.post("/v1/messages", json=user(text, model="claude-opus-4-7")).status_code == 200


def test_seeded_probability_fault_in_a_scenario(http: httpx2.Client, fake: FakeUpstream) -> None:
    def statuses() -> list[int]:
        fake.scenario = Scenario(
            seed=5, rules=(Rule(contains="soak", fault=Fault(kind="overloaded", probability=0.5)),)
        )
        return [http.post("/v1/messages", json=user(f"soak {i}")).status_code for i in range(30)]

    first = statuses()
    assert first == statuses()
    assert 5 <= first.count(529) <= 25 and set(first) == {200, 529}


def test_timeout_hangs_then_closes(http: httpx2.Client, fake: FakeUpstream) -> None:
    with pytest.raises(httpx2.ReadTimeout):
        http.post("/v1/messages", json=user("x [[fake fault=timeout hang=5]]"), timeout=0.3)
    fake.wait_idle()
    record = fake.requests[-1]
    assert record.fault == "timeout" and record.status is None and record.disconnected
    with pytest.raises(httpx2.RemoteProtocolError):
        http.post("/v1/messages", json=user("x [[fake fault=timeout hang=0.1]]"), timeout=5)
    fake.wait_idle()
    assert fake.requests[-1].aborted and not fake.requests[-1].disconnected


def test_drop_mid_stream(http: httpx2.Client, fake: FakeUpstream) -> None:
    received: list[str] = []
    body = user("x [[fake fault=drop after=5 tokens=40]]", stream=True)
    with http.stream("POST", "/v1/messages", json=body) as response:
        assert response.status_code == 200
        with pytest.raises(httpx2.RemoteProtocolError):
            received.extend(response.iter_text())  # keeps what arrived before the connection closed
    fake.wait_idle()
    text = "".join(received)
    assert text.count("event: ") == 5 and "message_stop" not in text
    record = fake.requests[-1]
    assert (record.events, record.content_events, record.completed, record.aborted) == (5, 2, False, True)


def test_drop_without_stream_closes_before_answering(http: httpx2.Client) -> None:
    with pytest.raises(httpx2.RemoteProtocolError):
        http.post("/v1/messages", json=user("x [[fake fault=drop]]"))


def test_malformed_json_body(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("x [[fake fault=malformed]]"))
    assert response.status_code == 200
    assert response.text.startswith('{"id":"msg_')
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_malformed_sse_event(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("x [[fake fault=malformed after=4]]", stream=True))
    chunks = [c for c in response.text.split("\n\n") if c]
    assert len(chunks) == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(chunks[-1].split("data: ", 1)[1])


def test_error_event_mid_stream(http: httpx2.Client) -> None:
    response = http.post("/v1/messages", json=user("x [[fake fault=stream_error after=6]]", stream=True))
    events = sse_events(response)
    assert [n for n, _ in events][:6] == ["message_start", "content_block_start", "ping", *["content_block_delta"] * 3]
    name, data = events[-1]
    assert name == "error" and len(events) == 7
    assert data["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert data["request_id"] == response.headers["request-id"]


def test_stream_error_without_stream_is_a_529(http: httpx2.Client) -> None:
    assert http.post("/v1/messages", json=user("x [[fake fault=stream_error]]")).status_code == 529


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("not_json", "not JSON"),
        ("missing_confidence", "confidence"),
        ("missing_answer", "answer"),
        ("confidence_out_of_range", "range"),
        ("confidence_not_number", "type"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_triage_replies(http: httpx2.Client, fault: str, problem: str, stream: bool) -> None:
    body = triage(f"q [[fake confidence=0.9 answer=yes fault={fault}]]", stream=stream)
    response = http.post("/v1/messages", json=body)
    text = streamed_text(sse_events(response)) if stream else response.json()["content"][0]["text"]
    if problem == "not JSON":
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        return
    payload = json.loads(text)
    if problem == "confidence":
        assert "confidence" not in payload and payload["answer"] == "yes"
    elif problem == "answer":
        assert "answer" not in payload and payload["confidence"] == 0.9
    elif problem == "range":
        assert not 0 <= payload["confidence"] <= 1
    else:
        assert not isinstance(payload["confidence"], int | float)


@pytest.mark.parametrize("stream", [False, True])
def test_truncated_triage(http: httpx2.Client, stream: bool) -> None:
    body = triage("q [[fake confidence=0.9 tokens=30 fault=truncated]]", stream=stream)
    response = http.post("/v1/messages", json=body)
    if stream:
        events = sse_events(response)
        text, stop = streamed_text(events), events[-2][1]["delta"]["stop_reason"]
    else:
        message = response.json()
        text, stop = message["content"][0]["text"], message["stop_reason"]
    assert stop == "max_tokens"
    assert text.startswith('{"confidence": 0.9')
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize("stream", [False, True])
def test_refusal(http: httpx2.Client, stream: bool) -> None:
    response = http.post("/v1/messages", json=triage("q [[fake fault=refusal]]", stream=stream))
    if stream:
        delta = sse_events(response)[-2][1]["delta"]
        assert delta["stop_reason"] == "refusal" and delta["stop_details"]["type"] == "refusal"
    else:
        assert response.json()["stop_reason"] == "refusal"


def test_openai_faults(http: httpx2.Client) -> None:
    def chat(text: str, **extra: object) -> httpx2.Response:
        return http.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": text}], **extra}
        )

    overloaded = chat("[[fake fault=529]]")
    assert overloaded.status_code == 529
    assert overloaded.json()["error"]["type"] == "server_error"
    assert overloaded.headers["x-request-id"].startswith("req_")
    streamed = chat("[[fake fault=stream_error after=3]]", stream=True).text
    lines = [c for c in streamed.split("\n\n") if c]
    assert len(lines) == 4 and "[DONE]" not in streamed
    assert json.loads(lines[-1].removeprefix("data: "))["error"]["code"] == "overloaded"
    with pytest.raises(httpx2.RemoteProtocolError):
        chat("[[fake fault=drop after=2]]", stream=True)


def test_stall_mid_stream(http: httpx2.Client, fake: FakeUpstream) -> None:
    received: list[str] = []
    body = user("x [[fake fault=stall after=4 hang=5 tokens=30]]", stream=True)
    with (
        http.stream("POST", "/v1/messages", json=body, timeout=httpx2.Timeout(5, read=0.3)) as response,
        pytest.raises(httpx2.ReadTimeout),
    ):
        received.extend(response.iter_text())
    fake.wait_idle()
    assert "".join(received).count("event: ") == 4
    record = fake.requests[-1]
    assert (record.fault, record.events, record.completed, record.disconnected) == ("stall", 4, False, True)
    with pytest.raises(httpx2.RemoteProtocolError):  # the connection is closed after the stall
        http.post("/v1/messages", json=user("x [[fake fault=stall after=5 hang=0.1]]", stream=True), timeout=5)
    fake.wait_idle()
    assert fake.requests[-1].aborted
