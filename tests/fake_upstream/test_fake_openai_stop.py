"""The fake's OpenAI dialect honours ``stop`` as chat completions do: the reply ends before the first stop
sequence it reaches, without it, with ``finish_reason: "stop"`` (a string or a list). Through the official
``openai`` SDK, straight to the fake and through the proxy (``/v1/chat/completions`` to an ``openai:`` model,
where the proxy turns ``stop`` into ``stop_sequences`` and back)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

ASK = '[[fake answer="One, two. STOP three. HALT four"]] count'


@pytest.fixture
def oai(upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.url + "/v1", api_key="test", max_retries=0)


@pytest.fixture
def proxied(upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "OPENAI_BASE_URL": upstream.url + "/v1"})
    with ProxyThread(settings, use_store=False) as proxy:
        yield openai.OpenAI(base_url=proxy.url + "/v1", api_key="test", max_retries=0)


@pytest.mark.parametrize("stop", [["HALT", "STOP"], "STOP"])
def test_the_reply_ends_before_the_first_stop(oai: openai.OpenAI, stop: list[str] | str) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}], stop=stop
    )
    choice = completion.choices[0]
    assert choice.message.content == "One, two. " and choice.finish_reason == "stop"


def test_a_stream_ends_before_the_first_stop(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}], stop=["HALT"], stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "One, two. STOP three. "
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_no_stop_keeps_the_whole_reply(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}])
    assert completion.choices[0].message.content == "One, two. STOP three. HALT four"


def test_stop_through_the_proxy_to_an_openai_model(proxied: openai.OpenAI, upstream: FakeUpstream) -> None:
    completion = proxied.chat.completions.create(
        model="openai:gpt-4o-mini", messages=[{"role": "user", "content": ASK}], stop=["STOP"]
    )
    assert completion.choices[0].message.content == "One, two. "
    (call,) = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
    assert call.body["stop"] == ["STOP"]
