"""The OpenAI dialect: ``POST /v1/chat/completions``, JSON and ``data:`` chunk streams."""

from __future__ import annotations

import json
import time
from json.encoder import encode_basestring
from typing import Any, Final

from tiered.fake_upstream.asgi import BAD_JSON, Frame, WireExchange, json_bytes
from tiered.fake_upstream.completion import send_failure, serve
from tiered.fake_upstream.directives import DirectiveError
from tiered.fake_upstream.faults import Failure, new_id
from tiered.fake_upstream.generate import Reply
from tiered.fake_upstream.prompt import Prompt, openai_prompt
from tiered.fake_upstream.resolve import Runtime
from tiered.fake_upstream.validate import validate_chat

__all__ = ["OPENAI", "OpenAIDialect", "chat_completions", "openai_error"]

# Anthropic error type -> (OpenAI error type, code)
_ERROR_TYPES: Final[dict[str, tuple[str, str | None]]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "authentication_error": ("invalid_request_error", "invalid_api_key"),
    "not_found_error": ("invalid_request_error", "not_found"),
    "rate_limit_error": ("requests", "rate_limit_exceeded"),
    "overloaded_error": ("server_error", "overloaded"),
    "api_error": ("server_error", None),
    "timeout_error": ("server_error", "timeout"),
}
_FINGERPRINT: Final = "fp_fake"
_SENTINEL: Final = "\x00"


def openai_error(failure: Failure) -> dict[str, Any]:
    error_type, code = _ERROR_TYPES.get(failure.error_type, ("server_error", None))
    head = failure.message.split(":", 1)[0]
    param = head if failure.error_type == "invalid_request_error" and " " not in head else None
    return {"error": {"message": failure.message, "type": error_type, "param": param, "code": code}}


def _finish_reason(reply: Reply, prompt: Prompt) -> str:
    if reply.stop_reason == "max_tokens":
        return "length"
    if reply.stop_reason == "tool_use":
        # OpenAI reports "stop" when the function was forced by name, "tool_calls" otherwise.
        named = prompt.triage == "tool" or (prompt.forced_tool is not None and prompt.forced_tool.named)
        return "stop" if named else "tool_calls"
    return "stop"


def _usage(reply: Reply) -> dict[str, Any]:
    prompt_tokens = reply.input_tokens + reply.cache_read_input_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_json(reply: Reply, prompt: Prompt) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
    if reply.stop_reason == "refusal":
        message["content"], message["refusal"] = None, reply.text
    elif reply.block == "tool_use":
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": new_id("call_"),
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": reply.text},
            }
        ]
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": prompt.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(reply, prompt)}],
        "usage": _usage(reply),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }


class _Chunks:
    """Encodes the chunks of one stream; content chunks are a template with the token spliced in."""

    def __init__(self, prompt: Prompt) -> None:
        self.base: dict[str, Any] = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": prompt.model,
            "system_fingerprint": _FINGERPRINT,
        }
        self.include_usage = prompt.include_usage

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        data: dict[str, Any] = {**self.base, "choices": [choice]}
        if self.include_usage:
            data["usage"] = None
        return b"data: " + json_bytes(data) + b"\n\n"

    def template(self, delta: dict[str, Any]) -> tuple[bytes, bytes]:
        head, tail = self.chunk(delta).split(json.dumps(_SENTINEL).encode(), 1)
        return head, tail


def chunk_frames(reply: Reply, prompt: Prompt) -> list[Frame]:
    chunks = _Chunks(prompt)
    first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
    if reply.stop_reason == "refusal":
        first["content"] = None
        head, tail = chunks.template({"refusal": _SENTINEL})
    elif reply.block == "tool_use":
        first["content"] = None
        call = {"name": reply.tool_name, "arguments": ""}
        first["tool_calls"] = [{"index": 0, "id": new_id("call_"), "type": "function", "function": call}]
        head, tail = chunks.template({"tool_calls": [{"index": 0, "function": {"arguments": _SENTINEL}}]})
    else:
        head, tail = chunks.template({"content": _SENTINEL})
    frames = [Frame(chunks.chunk(first), 0.0)]
    ttft, tps = reply.ttft_s, reply.tokens_per_s
    at = ttft
    for i, token in enumerate(reply.tokens):
        at = ttft + (i / tps if tps > 0 else 0.0)
        frames.append(Frame(head + encode_basestring(token).encode() + tail, at, content=1))
    frames.append(Frame(chunks.chunk({}, _finish_reason(reply, prompt)), at))
    if prompt.include_usage:
        usage = {**chunks.base, "choices": [], "usage": _usage(reply)}
        frames.append(Frame(b"data: " + json_bytes(usage) + b"\n\n", at))
    frames.append(Frame(b"data: [DONE]\n\n", at))
    return frames


class OpenAIDialect:
    """Renders replies as chat completions and ``data:`` chunk streams."""

    def failure_body(self, failure: Failure, request_id: str) -> dict[str, Any]:
        return openai_error(failure)

    def response_json(self, reply: Reply, prompt: Prompt) -> dict[str, Any]:
        return completion_json(reply, prompt)

    def frames(self, reply: Reply, prompt: Prompt) -> list[Frame]:
        return chunk_frames(reply, prompt)

    def cut(self, frames: list[Frame], after: int, kind: str, request_id: str) -> list[Frame]:
        kept = frames[:after]
        at = kept[-1].at if kept else 0.0
        if kind == "stream_error":
            error = openai_error(Failure(529, "overloaded_error", "Overloaded"))
            kept.append(Frame(b"data: " + json_bytes(error) + b"\n\n", at))
        elif kind == "malformed":
            kept.append(Frame(b'data: {"id":"chatcmpl-broken","choices":[{"delta":\n\n', at))
        return kept


OPENAI: Final = OpenAIDialect()


async def chat_completions(runtime: Runtime, ex: WireExchange, body: Any, start: float) -> None:
    problem = "body: the request body is not valid JSON" if body is BAD_JSON else validate_chat(body)
    if problem is not None:
        await send_failure(OPENAI, ex, Failure(400, "invalid_request_error", problem))
        return
    prompt = openai_prompt(body)
    try:
        resolution = runtime.resolve(prompt.last_user_text, prompt.model)
    except DirectiveError as exc:
        await send_failure(OPENAI, ex, Failure(400, "invalid_request_error", f"fake directive: {exc}"))
        return
    await serve(OPENAI, runtime, ex, prompt, resolution, start=start)
