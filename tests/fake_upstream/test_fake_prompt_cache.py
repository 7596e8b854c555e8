"""The fake's per-model prompt cache: breakpoints, look-back, minimum lengths, TTLs and the usage it reports.

One token is four characters in the fake's count, so the sizes below are exact: a 20,000-character block is
5,000 tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from tests.fake_upstream._fake_helpers import sse_events

from tiered.fake_upstream import FakeUpstream

HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"
BIG = "abcd" * 5_000  # 5,000 tokens: above every model's minimum (4,096 on Haiku 4.5 and Opus 4.7)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # 2027-01-15, after every date the tests rely on

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(fake: FakeUpstream) -> Iterator[Clock]:
    clock = Clock()
    previous = fake.app.cache.clock
    fake.app.cache.clock = clock
    yield clock
    fake.app.cache.clock = previous


def cached_system(model: str = HAIKU, text: str = BIG, ttl: str | None = None, question: str = "Q?") -> dict[str, Any]:
    marker: dict[str, Any] = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {
        "model": model,
        "max_tokens": 50,
        "system": [{"type": "text", "text": text, "cache_control": marker}],
        "messages": [{"role": "user", "content": f"{question} [[fake tokens=3]]"}],
    }


def usage(http: httpx2.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["usage"]
    return result


def split(u: dict[str, Any]) -> tuple[int, int, int, int]:
    """(read, written 5m, written 1h, uncached input)"""
    creation = u["cache_creation"]
    assert (
        u["cache_creation_input_tokens"]
        == creation["ephemeral_5m_input_tokens"] + creation["ephemeral_1h_input_tokens"]
    )
    return (
        u["cache_read_input_tokens"],
        creation["ephemeral_5m_input_tokens"],
        creation["ephemeral_1h_input_tokens"],
        u["input_tokens"],
    )


def test_write_then_read_on_the_same_model(http: httpx2.Client, clock: Clock) -> None:
    first = split(usage(http, cached_system()))
    assert first[0] == 0 and first[1] == 5_000 and first[2] == 0
    rest = first[3]
    assert rest >= 1
    again = split(usage(http, cached_system(question="Another, longer question?")))
    assert again[:3] == (5_000, 0, 0) and again[3] > rest  # only the uncached rest changed


def test_without_breakpoints_nothing_is_cached(http: httpx2.Client, clock: Clock) -> None:
    body = cached_system()
    del body["system"][0]["cache_control"]
    for _ in range(2):
        assert split(usage(http, body))[:3] == (0, 0, 0)


def test_the_cache_is_per_model(http: httpx2.Client, clock: Clock) -> None:
    assert split(usage(http, cached_system(OPUS)))[1] == 5_000
    assert split(usage(http, cached_system(HAIKU)))[:2] == (0, 5_000)  # written again: not Opus's entry
    assert split(usage(http, cached_system("claude-haiku-4-5-20251001")))[0] == 5_000  # a snapshot is the model


@pytest.mark.parametrize(("model", "minimum"), [(HAIKU, 4_096), (OPUS, 4_096), (SONNET, 1_024)])
def test_minimum_cacheable_length_per_model(http: httpx2.Client, clock: Clock, model: str, minimum: int) -> None:
    below = "abcd" * (minimum - 1)
    assert split(usage(http, cached_system(model, below)))[:3] == (0, 0, 0)  # silently not cached, no error
    at = "abcd" * minimum
    assert split(usage(http, cached_system(model, at)))[1] == minimum


def test_five_minute_ttl_refreshed_on_read(http: httpx2.Client, clock: Clock) -> None:
    usage(http, cached_system())
    clock.now += 299
    assert split(usage(http, cached_system()))[0] == 5_000  # read: the entry now lives until +599
    clock.now += 299
    assert split(usage(http, cached_system()))[0] == 5_000
    clock.now += 301
    assert split(usage(http, cached_system()))[:2] == (0, 5_000)  # expired, written again


def test_one_hour_ttl(http: httpx2.Client, clock: Clock) -> None:
    assert split(usage(http, cached_system(ttl="1h")))[:3] == (0, 0, 5_000)
    clock.now += 3_000
    assert split(usage(http, cached_system(ttl="1h")))[0] == 5_000
    clock.now += 3_601
    assert split(usage(http, cached_system(ttl="1h")))[:3] == (0, 0, 5_000)


def test_mixed_ttls_split_the_write(http: httpx2.Client, clock: Clock) -> None:
    body = cached_system(ttl="1h")
    body["system"].append({"type": "text", "text": "efgh" * 2_000, "cache_control": {"type": "ephemeral"}})
    assert split(usage(http, body))[:3] == (0, 2_000, 5_000)
    clock.now += 600  # the 5-minute entry is gone, the 1-hour one is not
    assert split(usage(http, body))[:3] == (5_000, 2_000, 0)


def test_longer_ttl_must_come_first(http: httpx2.Client) -> None:
    body = cached_system(ttl="5m")
    body["system"].append({"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}})
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 400 and "ttl" in response.json()["error"]["message"]


def test_at_most_four_breakpoints(http: httpx2.Client) -> None:
    body = cached_system()
    body["system"] += [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(4)]
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "A maximum of 4 blocks with cache_control may be provided. Found 5."


def test_automatic_caching_takes_one_of_the_four_slots(http: httpx2.Client) -> None:
    body = cached_system()
    body["system"] += [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(3)]
    assert http.post("/v1/messages", json=body).status_code == 200
    response = http.post("/v1/messages", json={**body, "cache_control": {"type": "ephemeral"}})
    assert response.status_code == 400 and response.json()["error"]["message"].endswith("Found 5.")


def conversation(turns: int, breakpoint_at: int) -> dict[str, Any]:
    """A system prompt, then ``turns`` one-block messages; the breakpoint on message ``breakpoint_at``."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        block: dict[str, Any] = {"type": "text", "text": f"turn {i} " + "wxyz" * 10}
        if i == breakpoint_at:
            block["cache_control"] = {"type": "ephemeral"}
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
    return {"model": SONNET, "max_tokens": 50, "system": BIG, "messages": messages}


def test_lookback_is_twenty_blocks(http: httpx2.Client, clock: Clock) -> None:
    written = split(usage(http, conversation(11, 10)))[1]  # the prefix through message 10 is cached
    assert written > 5_000
    # a breakpoint 19 blocks later looks back over 20 positions (itself included) and finds it
    assert split(usage(http, conversation(31, 29)))[0] == written
    http.post("/_fake/reset")
    usage(http, conversation(11, 10))
    # 20 blocks later the entry is outside the window: nothing is read, the whole prefix is written
    assert split(usage(http, conversation(33, 30)))[0] == 0


def test_automatic_caching_with_a_top_level_marker(http: httpx2.Client, clock: Clock) -> None:
    body = {**conversation(3, -1), "cache_control": {"type": "ephemeral"}}
    first = split(usage(http, body))
    assert first[1] > 5_000 and first[3] == 0  # everything through the last block is written
    longer = {**conversation(5, -1), "cache_control": {"type": "ephemeral"}}
    assert split(usage(http, longer))[0] == first[1]


def test_tools_are_part_of_the_prefix(http: httpx2.Client, clock: Clock) -> None:
    tool = {
        "name": "lookup",
        "description": BIG,
        "input_schema": {"type": "object"},
        "cache_control": {"type": "ephemeral"},
    }
    body = {"model": HAIKU, "max_tokens": 50, "tools": [tool], "messages": [{"role": "user", "content": "hi"}]}
    assert split(usage(http, body))[1] > 5_000
    assert split(usage(http, body))[0] > 5_000
    changed = {**body, "tools": [{**tool, "description": BIG + "!"}]}
    assert split(usage(http, changed))[0] == 0


def test_a_thinking_change_invalidates_the_messages_not_the_system(http: httpx2.Client, clock: Clock) -> None:
    body = conversation(3, 2)
    body["system"] = [{"type": "text", "text": BIG, "cache_control": {"type": "ephemeral"}}]
    body["max_tokens"] = 4000
    written = split(usage(http, {**body, "thinking": {"type": "enabled", "budget_tokens": 1024}}))
    assert written[1] > 5_000
    again = split(usage(http, {**body, "thinking": {"type": "enabled", "budget_tokens": 2048}}))
    assert again[0] == 5_000 and again[1] == written[1] - 5_000  # system read, messages written again


def test_scripted_usage_wins_over_the_cache(http: httpx2.Client, clock: Clock) -> None:
    usage(http, cached_system())
    scripted = cached_system(question="Q? [[fake cache_read=7 cache_creation=3 cache_creation_1h=2]]")
    u = usage(http, scripted)
    assert (u["cache_read_input_tokens"], u["cache_creation_input_tokens"]) == (7, 5)
    assert u["cache_creation"] == {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 2}


def test_a_request_refused_before_the_model_runs_writes_nothing(http: httpx2.Client, clock: Clock) -> None:
    assert http.post("/v1/messages", json=cached_system(question="Q? [[fake fault=429]]")).status_code == 429
    assert split(usage(http, cached_system()))[:2] == (0, 5_000)


def test_stream_reports_the_cache_in_message_start(http: httpx2.Client, clock: Clock) -> None:
    usage(http, cached_system(ttl="1h"))
    events = sse_events(http.post("/v1/messages", json={**cached_system(ttl="1h"), "stream": True}))
    start = events[0][1]["message"]["usage"]
    assert start["cache_read_input_tokens"] == 5_000
    assert start["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}


def test_sdk_reads_the_cache_usage(fake: FakeUpstream, clock: Clock) -> None:
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    body = cached_system(ttl="1h")
    first = client.messages.create(**body)
    assert first.usage.cache_creation_input_tokens == 5_000
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == 5_000
    with client.messages.stream(**body) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_read_input_tokens == 5_000 and final.usage.cache_creation_input_tokens == 0
