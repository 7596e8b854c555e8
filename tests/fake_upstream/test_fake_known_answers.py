"""The fake's real answers to a few everyday questions (issue #20, item 8): the README's try-out and `tiered
ask` show an answer, not filler words; a directive that scripts the length keeps the filler tests rely on."""

from __future__ import annotations

import anthropic

from tiered.fake_upstream import FakeUpstream
from tiered.fake_upstream.known_answers import known_answer


def test_matching_ignores_case_punctuation_and_directives() -> None:
    assert known_answer("what is the capital of france") == "The capital of France is Paris."
    assert known_answer("[[fake confidence=0.3]]  What is the capital of France?!") == (
        "The capital of France is Paris."
    )
    assert known_answer("What is 17 * 23?") == "17 × 23 = 391."
    assert known_answer("What is the capital of Spain?") is None


def test_through_the_sdk(upstream: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=upstream.url, api_key="sk-ant-test")
    question = {"role": "user", "content": "What is the capital of France?"}
    reply = client.messages.create(model="claude-opus-4-7", max_tokens=100, messages=[question])
    assert reply.content[0].type == "text" and reply.content[0].text == "The capital of France is Paris."
    scripted = {"role": "user", "content": "[[fake tokens=5]] What is the capital of France?"}
    filler = client.messages.create(model="claude-opus-4-7", max_tokens=100, messages=[scripted])
    assert filler.content[0].type == "text" and "Paris" not in filler.content[0].text
    assert filler.usage.output_tokens == 5
