"""Routing by capability through the proxy, with the official anthropic SDK, against the (strict) fake.

The strict fake rejects what the real API rejects per model (a prefill on Opus 4.7, a prompt over Haiku 4.5's
window): these requests used to be triaged or replayed there and fail; now the tier that takes them answers.
"""

from __future__ import annotations

from typing import Any

import anthropic

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-1234"
PREFILL: list[Any] = [
    {"role": "user", "content": '[[fake answer="4}"]] Reply with JSON {"n": ...} for 2+2.'},
    {"role": "assistant", "content": '{"n": '},
]


def client(proxy: ProxyThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


def test_prefill_on_the_default_route_is_answered_by_haiku(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).messages.with_raw_response.create(model="tiered", max_tokens=200, messages=PREFILL)
    message = raw.parse()
    assert message.model.startswith("claude-haiku-4-5")
    assert raw.headers["x-tiered-model"] == "claude-haiku-4-5"
    assert raw.headers["x-tiered-reason"] == "capability" and raw.headers["x-tiered-escalated"] == "false"
    (call,) = upstream.requests  # no triage, no call to Opus 4.7 (which answers a prefill with a 400)
    assert call.body["model"] == "claude-haiku-4-5" and call.body["messages"] == PREFILL
    decision = proxy.decisions().get(raw.headers["x-tiered-decision-id"])
    assert decision is not None and decision.reason_detail is not None
    assert decision.reason_detail.startswith("prefill: claude-opus-4-7 rejects an assistant prefill")


def test_prefill_streamed_is_answered_by_haiku(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    with client(proxy).messages.stream(model="tiered", max_tokens=200, messages=PREFILL) as stream:
        assert stream.response.headers["x-tiered-reason"] == "capability"
        final = stream.get_final_message()
    assert final.model.startswith("claude-haiku-4-5")
    assert [r.body["model"] for r in upstream.requests] == ["claude-haiku-4-5"]


def test_a_250k_token_prompt_is_not_triaged_on_haiku(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    # the fake counts 4 characters per token: 1,000,000 characters are 250k tokens, over Haiku 4.5's 200k
    prompt = "[[fake answer=Done.]] " + "lorem " * 166_667
    raw = client(proxy).messages.with_raw_response.create(
        model="tiered", max_tokens=100, messages=[{"role": "user", "content": prompt}]
    )
    assert raw.parse().content[0].type == "text"
    assert raw.headers["x-tiered-model"] == "claude-opus-4-7" and raw.headers["x-tiered-reason"] == "capability"
    assert [r.body["model"] for r in upstream.requests] == ["claude-opus-4-7"]
    decision = proxy.decisions().get(raw.headers["x-tiered-decision-id"])
    assert decision is not None and decision.reason_detail is not None and "window" in decision.reason_detail


def test_effort_is_answered_by_a_tier_that_takes_it(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).messages.with_raw_response.create(
        model="tiered",
        max_tokens=100,
        messages=[{"role": "user", "content": "[[fake answer=Four.]] What is 2+2?"}],
        extra_body={"output_config": {"effort": "low"}},
    )
    assert raw.parse().content[0].type == "text"
    assert raw.headers["x-tiered-model"] == "claude-opus-4-7" and raw.headers["x-tiered-reason"] == "capability"
    (call,) = upstream.requests
    assert call.body["output_config"] == {"effort": "low"}


def test_plain_requests_are_still_triaged(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    temperature = 0.2
    raw = client(proxy).messages.with_raw_response.create(
        model="tiered",
        max_tokens=100,
        messages=[{"role": "user", "content": "[[fake haiku:confidence=0.2]] Derive it."}],
        # this SDK version has no sampling arguments any more (the newest models reject them)
        extra_body={"temperature": temperature, "top_p": 0.9},
    )
    assert raw.parse().model.startswith("claude-opus-4-7")
    triage, final = upstream.requests
    # Haiku 4.5 takes temperature or top_p, not both; Opus 4.7 takes neither: both reported rewrites
    assert "top_p" not in triage.body and triage.body["temperature"] == temperature
    assert "temperature" not in final.body and "top_p" not in final.body
    decision = proxy.decisions().get(raw.headers["x-tiered-decision-id"])
    assert decision is not None
    assert [a.rewrites for a in decision.attempts] == [("drop:top_p",), ("drop:temperature", "drop:top_p")]
