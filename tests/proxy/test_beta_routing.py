"""A model-specific ``anthropic-beta`` flag through the proxy, with the official SDK, against the strict fake:
the fake refuses the beta on a model that does not take it (as the API does), so the proxy never triages such a
request there; it goes to the tier that takes it, with reason ``capability``."""

from __future__ import annotations

import anthropic
import pytest

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-1234"
TASK_BUDGETS = "task-budgets-2026-03-13"
ASK = [{"role": "user", "content": "[[fake answer=Four.]] What is 2+2?"}]


def _client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)


def test_the_fake_refuses_the_beta_on_a_model_that_does_not_take_it(upstream: FakeUpstream) -> None:
    client = _client(upstream.url)
    with pytest.raises(anthropic.BadRequestError, match=f"Unsupported beta header: {TASK_BUDGETS}"):
        client.beta.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ASK, betas=[TASK_BUDGETS])
    answer = client.beta.messages.create(model="claude-opus-4-7", max_tokens=50, messages=ASK, betas=[TASK_BUDGETS])
    assert answer.content


@pytest.mark.parametrize("stream", [False, True])
def test_a_beta_haiku_does_not_take_is_answered_by_opus(
    proxy: ProxyThread, upstream: FakeUpstream, stream: bool
) -> None:
    client = _client(proxy.url)
    headers = {"anthropic-beta": TASK_BUDGETS}
    if stream:
        with client.messages.stream(model="tiered", max_tokens=50, messages=ASK, extra_headers=headers) as events:
            response_headers = events.response.headers
            assert events.get_final_message().content
    else:
        raw = client.messages.with_raw_response.create(
            model="tiered", max_tokens=50, messages=ASK, extra_headers=headers
        )
        assert raw.parse().content
        response_headers = raw.headers
    assert response_headers["x-tiered-model"] == "claude-opus-4-7"
    assert response_headers["x-tiered-reason"] == "capability"
    assert TASK_BUDGETS in response_headers["x-tiered-reason-detail"]
    (call,) = [r for r in upstream.requests if r.path == "/v1/messages"]  # no triage on Haiku 4.5
    assert call.body["model"] == "claude-opus-4-7" and call.headers["anthropic-beta"] == TASK_BUDGETS


def test_a_beta_every_model_takes_is_still_triaged(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = _client(proxy.url).messages.with_raw_response.create(
        model="tiered",
        max_tokens=50,
        messages=[{"role": "user", "content": "[[fake confidence=0.95 answer=Four.]] What is 2+2?"}],
        extra_headers={"anthropic-beta": "files-api-2025-04-14"},
    )
    assert raw.parse().content
    assert raw.headers["x-tiered-model"] == "claude-haiku-4-5" and "x-tiered-reason-detail" not in raw.headers
