"""Stream translators both ways, checked with the SDKs' chunk and event models, and round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import RawMessageStreamEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk
from pydantic import TypeAdapter

from tiered.errors import UpstreamProtocolError
from tiered.openai_compat import DONE_LINE, ChatToMessagesStream, MessagesToChatStream

EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def anthropic_events(blocks: list[tuple[str, Any]], stop_reason: str = "end_turn") -> list[dict[str, Any]]:
    """A Messages stream with the given ("text", str) / ("tool", (id, name, input)) blocks."""
    events: list[dict[str, Any]] = [{
        "type": "message_start",
        "message": {"id": "msg_s", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "content": [],
                    "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 40, "output_tokens": 1, "cache_read_input_tokens": 8}},
    }, {"type": "ping"}]  # fmt: skip
    for index, (kind, value) in enumerate(blocks):
        if kind == "text":
            events.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            for piece in (value[: len(value) // 2], value[len(value) // 2 :]):
                events.append(
                    {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}
                )
        else:
            call_id, name, tool_input = value
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}})  # fmt: skip
            text = json.dumps(tool_input)
            for piece in (text[:3], text[3:]):
                events.append({"type": "content_block_delta", "index": index,
                               "delta": {"type": "input_json_delta", "partial_json": piece}})  # fmt: skip
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                   "usage": {"output_tokens": 17}})  # fmt: skip
    events.append({"type": "message_stop"})
    return events


def to_chat(events: list[dict[str, Any]], **options: Any) -> list[bytes]:
    translator = MessagesToChatStream(created=1_700_000_000, **options)
    lines = [line for event in events for line in translator.feed(event["type"], event)]
    assert translator.done
    return lines


def parse_lines(lines: list[bytes]) -> list[ChatCompletionChunk]:
    assert lines[-1] == DONE_LINE
    chunks = []
    for line in lines[:-1]:
        assert line.startswith(b"data: ") and line.endswith(b"\n\n")
        chunks.append(ChatCompletionChunk.model_validate_json(line[6:-2]))
    return chunks


def assemble(chunks: list[ChatCompletionChunk]) -> tuple[str, dict[int, dict[str, str]], str | None]:
    text = ""
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, calls, finish


BLOCKS: list[tuple[str, Any]] = [
    ("text", "Let me look that up."),
    ("tool", ("toolu_1", "search", {"q": "tiered"})),
    ("tool", ("toolu_2", "fetch", {"url": "https://x.test", "n": [1, 2]})),
]


def test_messages_stream_to_chat_chunks() -> None:
    chunks = parse_lines(to_chat(anthropic_events(BLOCKS, "tool_use")))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(
        chunk.id == "msg_s" and chunk.model == "claude-haiku-4-5" and chunk.created == 1_700_000_000 for chunk in chunks
    )
    text, calls, finish = assemble(chunks)
    assert text == "Let me look that up." and finish == "tool_calls"
    assert calls == {
        0: {"id": "toolu_1", "name": "search", "arguments": json.dumps({"q": "tiered"})},
        1: {"id": "toolu_2", "name": "fetch", "arguments": json.dumps({"url": "https://x.test", "n": [1, 2]})},
    }
    assert all(chunk.usage is None for chunk in chunks)
    assert b'"usage"' not in b"".join(to_chat(anthropic_events(BLOCKS)))


def test_include_usage_adds_a_final_usage_chunk() -> None:
    chunks = parse_lines(to_chat(anthropic_events(BLOCKS[:1]), include_usage=True, model="tiered", completion_id="c1"))
    *body, last = chunks
    assert last.choices == [] and last.usage is not None
    assert last.usage.prompt_tokens == 48 and last.usage.completion_tokens == 17 and last.usage.total_tokens == 65
    assert last.usage.prompt_tokens_details is not None and last.usage.prompt_tokens_details.cached_tokens == 8
    assert all(chunk.usage is None and chunk.model == "tiered" and chunk.id == "c1" for chunk in body)
    assert body[-1].choices[0].finish_reason == "stop"


def test_error_event_ends_the_stream_with_an_error_line() -> None:
    translator = MessagesToChatStream(created=0)
    events = anthropic_events(BLOCKS[:1])[:4]
    lines = [line for event in events for line in translator.feed(event["type"], event)]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    [line] = translator.feed("error", error)
    assert translator.done and translator.feed("message_stop", {}) == []
    assert json.loads(line[6:]) == {
        "error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}
    }
    assert len(lines) == 2  # the role chunk and the first text delta


def test_unknown_blocks_and_deltas_are_skipped() -> None:
    events = anthropic_events([("text", "hi")])
    events.insert(2, {"type": "content_block_start", "index": 9, "content_block": {"type": "thinking", "thinking": ""}})
    events.insert(3, {"type": "content_block_delta", "index": 9, "delta": {"type": "thinking_delta", "thinking": "hm"}})
    events.insert(
        4, {"type": "content_block_delta", "index": 9, "delta": {"type": "input_json_delta", "partial_json": "{"}}
    )
    assert assemble(parse_lines(to_chat(events)))[0] == "hi"


def openai_chunks(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in lines if line != DONE_LINE]


def to_messages(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = ChatToMessagesStream(model="fallback")
    events = [event for chunk in chunks for event in translator.feed(chunk)]
    events += translator.finish()
    for event in events:
        EVENTS.validate_python(event)
    return events


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the final Messages content from stream events."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    stop_reason = None
    for event in events:
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                blocks[event["index"]]["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif event["type"] == "message_delta":
            stop_reason = event["delta"]["stop_reason"]
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    return {"content": [blocks[i] for i in sorted(blocks)], "stop_reason": stop_reason}


def test_round_trip_messages_to_chat_to_messages() -> None:
    original = anthropic_events(BLOCKS, "tool_use")
    back = to_messages(openai_chunks(to_chat(original, include_usage=True)))
    assert accumulate(back) == accumulate(original)
    assert back[0]["message"]["model"] == "claude-haiku-4-5"
    assert back[-2]["usage"] == {"input_tokens": 40, "output_tokens": 17, "cache_read_input_tokens": 8,
                                 "cache_creation_input_tokens": 0}  # fmt: skip
    assert [e["type"] for e in back].count("content_block_stop") == 3


def test_chat_stream_edge_cases() -> None:
    base = {"id": "c", "model": "", "choices": []}
    refusal = [{**base, "choices": [{"index": 0, "delta": {"refusal": "No."}, "finish_reason": None}]},
               {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]  # fmt: skip
    events = to_messages(refusal)
    assert events[0]["message"]["model"] == "fallback"
    assert accumulate(events) == {"content": [{"type": "text", "text": "No."}], "stop_reason": "refusal"}

    translator = ChatToMessagesStream()
    with pytest.raises(UpstreamProtocolError, match="finish_reason"):
        translator.finish()

    interleaved = [
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}]}}]},
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g"}}]}}]},
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]},
    ]  # fmt: skip
    translator = ChatToMessagesStream()
    translator.feed(interleaved[0])
    translator.feed(interleaved[1])
    with pytest.raises(UpstreamProtocolError, match="interleaved"):
        translator.feed(interleaved[2])


def test_after_finish_nothing_more_is_emitted() -> None:
    translator = ChatToMessagesStream()
    translator.feed({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "length"}]})
    assert [e["type"] for e in translator.finish()] == ["message_delta", "message_stop"]
    assert translator.finish() == [] and translator.feed({"choices": []}) == []


_block = st.one_of(
    st.tuples(st.just("text"), st.text(min_size=1, max_size=30)),
    st.tuples(
        st.just("tool"),
        st.tuples(
            st.text("abcdef0123456789", min_size=1, max_size=8).map("toolu_{}".format),
            st.text("abcdefgh_", min_size=1, max_size=10),
            st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.booleans(), max_size=3),
        ),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    blocks=st.lists(_block, max_size=5),
    stop_reason=st.sampled_from(["end_turn", "max_tokens", "tool_use", "refusal"]),
    include_usage=st.booleans(),
)
def test_any_stream_survives_both_ways(blocks: list[tuple[str, Any]], stop_reason: str, include_usage: bool) -> None:
    original = anthropic_events(blocks, stop_reason)
    lines = to_chat(original, include_usage=include_usage)
    parse_lines(lines)
    back = accumulate(to_messages(openai_chunks(lines)))
    expected = accumulate(original)
    # Adjacent text blocks read back as one: chat completions has a single content string.
    merged: list[dict[str, Any]] = []
    for block in expected["content"]:
        if merged and block["type"] == "text" and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + block["text"]}
        else:
            merged.append(block)
    assert back["content"] == merged
    assert back["stop_reason"] == expected["stop_reason"]
