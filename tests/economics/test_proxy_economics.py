"""The economics through the proxy and the SDK, against the strict fake's per-model prompt cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tiered.decision import Decision
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

from ..proxy.helpers import proxy_settings

KEY = "sk-ant-economics-tests"
# 240,000 characters: 60,000 tokens by the fake's count (four characters a token)
DOCUMENT = "abcd" * 60_000


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Iterator[ProxyThread]:
    with ProxyThread(proxy_settings(upstream), use_store=False) as running:
        yield running


def _decision(proxy: ProxyThread, decision_id: str) -> Decision:
    """A JSON answer's decision: recorded (and in the recent window) before its response was sent."""
    found: Decision | None = proxy.decisions().get(decision_id)
    assert found is not None, f"no decision {decision_id}"
    return found


def _turns(questions: list[str]) -> list[dict[str, Any]]:
    """A conversation whose last user message carries the cache breakpoint, as agents place it."""
    messages: list[dict[str, Any]] = []
    for n, question in enumerate(questions):
        if n:
            messages.append({"role": "assistant", "content": f"answer {n}"})
        messages.append({"role": "user", "content": [{"type": "text", "text": question}]})
    messages[-1]["content"][0]["cache_control"] = {"type": "ephemeral"}
    return messages


def _ask(proxy: ProxyThread, messages: list[dict[str, Any]], model: str = "tiered") -> tuple[Any, Decision]:
    client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model=model,
        max_tokens=300,
        system=[{"type": "text", "text": DOCUMENT}],
        messages=messages,  # type: ignore[arg-type]
    )
    return raw, _decision(proxy, raw.headers["x-tiered-decision-id"])


def _calls(upstream: FakeUpstream, model: str) -> int:
    return sum(1 for r in upstream.requests if r.path == "/v1/messages" and r.body.get("model") == model)


def test_a_long_prefix_only_the_final_tier_has_cached_is_not_triaged(
    proxy: ProxyThread, upstream: FakeUpstream
) -> None:
    """Turn 1 went to Opus directly (a pass-through call, learned from too): Opus has the 60k-token prefix
    cached, Haiku has nothing. Turn 2 on the route: a cold Haiku triage would write 60k tokens ($0.075) where
    Opus reads them ($0.03), so tiered answers on Opus at once, with reason ``not_worth_triage`` and the numbers,
    and the answer's usage shows the cache read."""
    _, first = _ask(proxy, _turns(["[[fake tokens=20]] q1"]), model="claude-opus-4-7")
    assert first.passthrough and first.attempts[0].usage.cache_creation_input_tokens >= 60_000
    raw, second = _ask(proxy, _turns(["[[fake tokens=20]] q1", "[[fake tokens=20]] q2"]))
    assert raw.headers["x-tiered-reason"] == "not_worth_triage"
    assert raw.headers["x-tiered-model"] == "claude-opus-4-7"
    assert (
        second.reason_detail is not None and "answered directly by claude-opus-4-7: expected $" in second.reason_detail
    )
    assert _calls(upstream, "claude-haiku-4-5") == 0
    assert raw.parse().usage.cache_read_input_tokens >= 60_000
    assert [a.role.value for a in second.attempts] == ["final"]


def test_a_short_fresh_prompt_is_still_triaged(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="tiered", max_tokens=300, messages=[{"role": "user", "content": "What is 17 * 23?"}]
    )
    assert raw.headers["x-tiered-reason"] != "not_worth_triage"
    assert _calls(upstream, "claude-haiku-4-5") == 1


def test_an_escalated_conversation_configured_to_stay_up_stays_up(upstream: FakeUpstream) -> None:
    settings = proxy_settings(upstream, TIERED_ROUTES__DEFAULT__STAY_UP_S="600")
    with ProxyThread(settings, use_store=False) as proxy:
        client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
        first = [{"role": "user", "content": "[[fake haiku:confidence=0.2 opus:tokens=10]] hard question"}]
        one = client.messages.with_raw_response.create(model="tiered", max_tokens=300, messages=first)  # type: ignore[arg-type]
        assert one.headers["x-tiered-reason"] == "low_confidence"
        follow = [*first, {"role": "assistant", "content": "answer"}, {"role": "user", "content": "an easy one"}]
        two = client.messages.with_raw_response.create(model="tiered", max_tokens=300, messages=follow)  # type: ignore[arg-type]
        assert two.headers["x-tiered-reason"] == "policy"
        assert two.headers["x-tiered-model"] == "claude-opus-4-7"
        decision = _decision(proxy, two.headers["x-tiered-decision-id"])
        assert decision.reason_detail is not None and decision.reason_detail.startswith("stay_up:")
    assert _calls(upstream, "claude-haiku-4-5") == 1  # the first turn's triage only


def test_counterfactual_and_penalty_on_a_scripted_conversation(proxy: ProxyThread) -> None:
    """Worked by hand from the fake's counts (four characters a token; Haiku 4.5 $1 in, $5 out, $0.10 read,
    $1.25 write; Opus 4.7 $5, $25, $0.50, $6.25 per million tokens).

    Turn 1 ships on Haiku. Its triage wrote 60,289 tokens: the 60,000-token document, the 280-token triage
    instruction and the 9 tokens of q1. The all-Opus path would have written 60,009 of them (no instruction)
    and 13 answer tokens (25 less the 12 of the JSON wrapper): 60,009 x 6.25 + 13 x 25 = $0.37538125.

    Turn 2 escalates: Haiku reads its 60,289 and writes 14, then Opus, cold, writes the whole prefix: 60,023
    tokens x $6.25 = $0.37514375 + 20 x $25 = $0.0005, so $0.37564375. The all-Opus path would have had turn
    1's 60,009 tokens cached: it reads them (60,009 x 0.50 = $0.0300045), writes the 14 new ones (14 x 6.25 =
    $0.0000875) and answers ($0.0005): $0.030592. The cascade's penalty is $0.37564375 - $0.030592 =
    $0.34505175; the turn lost $0.35 against all-Opus (savings $0.030592 - $0.38172015)."""
    raw_one, one = _ask(proxy, _turns(["[[fake confidence=0.9 tokens=20]] q1"]))
    q2 = "[[fake haiku:confidence=0.2 opus:tokens=20]] q2"
    raw_two, two = _ask(proxy, _turns(["[[fake confidence=0.9 tokens=20]] q1", q2]))
    assert one.attempts[0].usage.cache_creation_input_tokens == 60_289
    assert one.counterfactual_cost_usd == pytest.approx(0.37538125, abs=1e-9)
    triage, final = two.attempts
    assert (triage.usage.cache_read_input_tokens, triage.usage.cache_creation_input_tokens) == (60_289, 14)
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (0, 60_023)
    assert final.cost_usd == pytest.approx(0.37564375, abs=1e-9)
    assert two.cost_usd == pytest.approx(0.38172015, abs=1e-9)
    assert two.counterfactual_cost_usd == pytest.approx(0.030592, abs=1e-9)
    assert two.savings_usd == pytest.approx(0.030592 - 0.38172015, abs=1e-9)
    assert proxy.services is not None
    economics = proxy.services.router.deps.economics
    assert economics is not None
    assert economics.penalty_usd == pytest.approx(0.34505175, abs=1e-9)
    # on the record, in the headers, and the conversation's depth
    assert (one.cache_penalty_usd, one.depth) == (0.0, 1)
    assert two.cache_penalty_usd == pytest.approx(0.34505175, abs=1e-9)
    assert two.depth == 2
    assert raw_one.headers["x-tiered-cache-penalty-usd"] == "0.00000000"
    assert raw_two.headers["x-tiered-cache-penalty-usd"] == "0.34505175"
    assert two.to_dict()["cache_penalty_usd"] == pytest.approx(0.34505175, abs=1e-9)
