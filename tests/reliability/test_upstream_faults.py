"""Upstream faults through the real proxy over loopback, injected by the fake upstream.

* A failing cheap tier (the triage) escalates with reason ``upstream_error`` and is never retried.
* A failing final tier's error reaches the client faithfully: status, error JSON, ``retry-after``, request id,
  in the Anthropic or the OpenAI shape; a retryable one is retried within the budget, honouring ``retry-after``.
* A stream that already started is never silently restarted or billed twice: the fake's log shows exactly
  one call to the model that was answering, and the client reads an ``event: error`` as the last event.

Tests of features still being built (circuit breaker, ``degrade_to_cheap``, backpressure, budgets) are not
here yet: docs/reliability.md lists them.
"""

from __future__ import annotations

import itertools
from typing import Final

import pytest
from tests._sse import sse_events
from tests.reliability._rel_helpers import ask, model_calls, post

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

HAIKU: Final = "claude-haiku-4-5"
OPUS: Final = "claude-opus-4-7"
# (directive for the cheap tier, streamed?) -> the triage call fails, tiered escalates
CHEAP_FAULTS: Final = [
    pytest.param("fault=rate_limit retry_after=1", False, id="429"),
    pytest.param("fault=overloaded", False, id="529"),
    pytest.param("fault=api_error", False, id="500"),
    pytest.param("fault=unavailable", False, id="503"),
    pytest.param("fault=gateway_timeout", False, id="504"),
    pytest.param("fault=timeout hang=5", False, id="timeout"),
    pytest.param("fault=drop", False, id="reset-before-response"),
    pytest.param("fault=malformed", False, id="malformed-json"),
    pytest.param("fault=rate_limit retry_after=1", True, id="stream-429"),
    pytest.param("fault=overloaded", True, id="stream-529"),
    pytest.param("fault=timeout hang=5", True, id="stream-timeout"),
    pytest.param("fault=drop after=0", True, id="stream-reset-before-first-event"),
    pytest.param("fault=drop after=2", True, id="stream-reset-mid-stream"),
    pytest.param("fault=stall after=2 hang=5", True, id="stream-stalled"),
    pytest.param("fault=stream_error after=3", True, id="stream-error-event"),
    pytest.param("fault=malformed after=3", True, id="stream-malformed-sse"),
]


def scoped(model: str, directive: str) -> str:
    return " ".join(f"{model}:{item}" for item in directive.split())


@pytest.mark.parametrize(("directive", "stream"), CHEAP_FAULTS)
def test_a_failing_cheap_tier_escalates(
    directive: str, stream: bool, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    text = f"[[fake {scoped('haiku', directive)}]] what is 2 + 2?"
    response = post(proxy.url, ask(text, stream=stream))
    assert response.status_code == 200, response.text[:400]
    assert response.headers["x-tiered-escalated"] == "true"
    assert response.headers["x-tiered-reason"] == "upstream_error"
    assert response.headers["x-tiered-model"] == OPUS
    if stream:
        events = sse_events(response.content)
        assert events[-1][0] == "message_stop"
        assert all(name != "error" for name, _ in events)
    # a failing triage is never retried: escalating is faster
    assert len(model_calls(upstream, HAIKU)) == 1
    assert len(model_calls(upstream, OPUS)) == 1
    decision = proxy.decisions().get(response.headers["x-tiered-decision-id"])
    assert decision is not None and decision.error is None
    assert [a.outcome for a in decision.attempts] == ["error", "answered"]


STATUS_FAULTS: Final = [
    pytest.param("fault=rate_limit retry_after=7", 429, "rate_limit_error", id="429"),
    pytest.param("fault=overloaded", 529, "overloaded_error", id="529"),
    pytest.param("fault=api_error", 500, "api_error", id="500"),
    pytest.param("fault=unavailable", 503, "api_error", id="503"),
    pytest.param("fault=gateway_timeout", 504, "timeout_error", id="504"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("routed", [True, False], ids=["routed", "passthrough"])
@pytest.mark.parametrize(("directive", "status", "error_type"), STATUS_FAULTS)
def test_a_failing_final_tier_reaches_the_client_faithfully(
    directive: str,
    status: int,
    error_type: str,
    routed: bool,
    stream: bool,
    proxy: ProxyThread,
    upstream: FakeUpstream,
) -> None:
    text = f"[[fake haiku:confidence=0.1 {scoped('opus', directive)}]] a hard question"
    response = post(proxy.url, ask(text, stream=stream, model="tiered" if routed else OPUS))
    (final,) = model_calls(upstream, OPUS)  # no retry with a zero budget
    assert response.status_code == status
    body = response.json()
    assert body == {
        "type": "error",
        "error": {"type": error_type, "message": body["error"]["message"]},
        "request_id": final.request_id,
    }
    assert body["error"]["message"]  # the upstream's own message, as the upstream wrote it
    assert response.headers["request-id"] == final.request_id
    assert response.headers["x-tiered-decision-id"].startswith("dec_")
    if status == 429:
        assert response.headers["retry-after"] == "7"
        assert response.headers["x-should-retry"] == "true"
    decision = proxy.decisions().get(response.headers["x-tiered-decision-id"])
    assert decision is not None
    assert decision.error_status == status
    assert decision.answered_by is None


@pytest.mark.parametrize(("directive", "status", "error_type"), STATUS_FAULTS)
def test_openai_clients_get_the_final_error_in_their_shape(
    directive: str, status: int, error_type: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    text = f"[[fake haiku:confidence=0.1 {scoped('opus', directive)}]] a hard question"
    chat = {"model": "tiered", "messages": [{"role": "user", "content": text}]}
    response = post(proxy.url, chat, path="/v1/chat/completions")
    (final,) = model_calls(upstream, OPUS)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert response.headers["request-id"] == final.request_id
    if status == 429:
        assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("directive", "status", "error_type"),
    [
        pytest.param("fault=timeout hang=5", 504, "timeout_error", id="timeout"),
        pytest.param("fault=drop", 502, "api_error", id="reset"),
        pytest.param("fault=malformed", 502, "api_error", id="malformed-json"),
    ],
)
def test_a_final_tier_that_never_answers_is_a_clean_error(
    directive: str, status: int, error_type: str, proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    text = f"[[fake haiku:confidence=0.1 {scoped('opus', directive)}]] a hard question"
    response = post(proxy.url, ask(text))
    assert response.status_code == status, response.text[:300]
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == error_type
    assert response.headers["x-tiered-decision-id"].startswith("dec_")
    assert len(model_calls(upstream, OPUS)) == 1


# -- streams that already started -------------------------------------------------------------------------

MID_STREAM: Final = [
    pytest.param("fault=drop after=5", "api_error", id="reset"),
    pytest.param("fault=stall after=5 hang=5", "timeout_error", id="stalled"),
    pytest.param("fault=stream_error after=5", "overloaded_error", id="error-event"),
    pytest.param("fault=malformed after=5", "api_error", id="malformed-sse"),
]


@pytest.mark.parametrize(("directive", "error_type"), MID_STREAM)
@pytest.mark.parametrize("retrying", [False, True], ids=["no-retries", "with-retries"])
def test_a_relayed_stream_that_breaks_is_never_restarted(
    directive: str,
    error_type: str,
    retrying: bool,
    proxy: ProxyThread,
    retrying_proxy: ProxyThread,
    upstream: FakeUpstream,
) -> None:
    running = retrying_proxy if retrying else proxy
    text = f"[[fake haiku:confidence=0.1 {scoped('opus', directive)}]] a long answer please"
    response = post(running.url, ask(text, stream=True))
    assert response.status_code == 200  # the stream had started: the status line was already sent
    events = sse_events(response.content)
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-1] == "error", names
    assert "message_stop" not in names
    assert events[-1][1]["error"]["type"] == error_type
    # exactly one final call: neither the provider's retries nor the router restarted it
    assert len(model_calls(upstream, OPUS)) == 1
    decision = running.decisions().get(response.headers["x-tiered-decision-id"])
    assert decision is not None
    assert decision.error is not None and decision.error_status != 499
    finals = [a for a in decision.attempts if a.model == OPUS]
    assert len(finals) == 1 and finals[0].outcome == "error"


@pytest.mark.parametrize(
    "directive",
    [
        pytest.param("fault=drop after=16", id="reset"),
        pytest.param("fault=stream_error after=16", id="error-event"),
    ],
)
def test_a_shipped_answer_that_breaks_is_not_replayed_to_the_final_tier(
    directive: str, retrying_proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    """The cheap answer had started to stream to the client: switching to the final tier now would show a
    second, different answer after the first one's beginning. The client gets an error event instead."""
    text = f"[[fake haiku:confidence=0.95 haiku:tokens=40 {scoped('haiku', directive)}]] a short answer"
    response = post(retrying_proxy.url, ask(text, stream=True))
    assert response.status_code == 200
    assert response.headers["x-tiered-escalated"] == "false"
    names = [name for name, _ in sse_events(response.content)]
    assert "content_block_delta" in names
    assert names[-1] == "error"
    assert len(model_calls(upstream, HAIKU)) == 1
    assert model_calls(upstream, OPUS) == []


# -- the retry budget -------------------------------------------------------------------------------------


def test_final_retries_honour_retry_after_within_the_budget(
    retrying_proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    text = "[[fake haiku:confidence=0.1 opus:fault=rate_limit opus:retry_after=0.3 opus:times=2]] q"
    response = post(retrying_proxy.url, ask(text))
    assert response.status_code == 200, response.text[:300]
    calls = model_calls(upstream, OPUS)
    assert [c.status for c in calls] == [429, 429, 200]
    gaps = [later.started_at - earlier.started_at for earlier, later in itertools.pairwise(calls)]
    assert all(gap >= 0.29 for gap in gaps), gaps  # retry-after-ms 300 was waited each time


def test_final_retries_stop_at_the_budget(retrying_proxy: ProxyThread, upstream: FakeUpstream) -> None:
    text = "[[fake haiku:confidence=0.1 opus:fault=overloaded opus:times=5]] q"
    response = post(retrying_proxy.url, ask(text))
    assert response.status_code == 529
    assert len(model_calls(upstream, OPUS)) == 3  # the first try and two retries


def test_a_retry_after_too_long_to_wait_is_passed_to_the_client(
    retrying_proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    text = "[[fake haiku:confidence=0.1 opus:fault=rate_limit opus:retry_after=90]] q"
    response = post(retrying_proxy.url, ask(text))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "90"
    assert len(model_calls(upstream, OPUS)) == 1


def test_the_client_is_never_told_to_retry_sooner_than_the_upstream_asked(
    proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    response = post(proxy.url, ask("[[fake haiku:confidence=0.1 opus:fault=rate_limit opus:retry_after=0.4]] q"))
    assert response.status_code == 429
    assert float(response.headers["retry-after"]) >= 0.4


def test_a_mid_stream_error_keeps_the_upstream_request_id(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    response = post(proxy.url, ask("[[fake haiku:confidence=0.1 opus:fault=stream_error opus:after=5]] q", stream=True))
    name, data = sse_events(response.content)[-1]
    assert name == "error"
    (final,) = model_calls(upstream, OPUS)
    assert data.get("request_id") == final.request_id
