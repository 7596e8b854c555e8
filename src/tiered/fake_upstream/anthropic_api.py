"""The Anthropic dialect: ``/v1/messages`` (JSON and SSE), ``count_tokens`` and ``models``."""

from __future__ import annotations

from dataclasses import replace
from json.encoder import encode_basestring
from typing import Any, Final

from tiered.fake_upstream.asgi import BAD_JSON, Frame, WireExchange, json_bytes
from tiered.fake_upstream.cache import CacheUsage, check_breakpoints
from tiered.fake_upstream.completion import send_failure, serve
from tiered.fake_upstream.directives import DirectiveError
from tiered.fake_upstream.faults import STATUS_FAULTS, Failure, new_id
from tiered.fake_upstream.generate import Reply
from tiered.fake_upstream.model_list import find_model, model_page
from tiered.fake_upstream.models import check_model, model_not_found, serves
from tiered.fake_upstream.prompt import Prompt, anthropic_prompt
from tiered.fake_upstream.resolve import Resolution, Runtime
from tiered.fake_upstream.shapes import check_shape
from tiered.fake_upstream.validate import validate_messages

__all__ = [
    "ANTHROPIC",
    "AnthropicDialect",
    "count_tokens",
    "error_json",
    "get_model",
    "list_models",
    "message_json",
    "messages",
    "prepare",
]


def error_json(failure: Failure, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": failure.error_type, "message": failure.message},
        "request_id": request_id,
    }


def _betas(headers: dict[str, str]) -> frozenset[str]:
    return frozenset(b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip())


def _strict(runtime: Runtime, body: dict[str, Any], input_tokens: int, betas: frozenset[str]) -> Failure | None:
    """The real API's rules beyond the body's types: per model, then per request shape, then the cache."""
    refused = check_model(body, input_tokens, scenario=runtime.scenario, today=runtime.today(), betas=betas)
    if refused is not None:
        status, message = refused
        return Failure(status, "not_found_error" if status == 404 else "invalid_request_error", message)
    problem = check_shape(body) or check_breakpoints(body)
    return Failure(400, "invalid_request_error", problem) if problem else None


def prepare(runtime: Runtime, body: Any, betas: frozenset[str] = frozenset()) -> tuple[Prompt, Resolution] | Failure:
    """Validate a Messages body and resolve its script; a :class:`Failure` says why it was refused."""
    if body is BAD_JSON:
        return Failure(400, "invalid_request_error", "body: the request body is not valid JSON")
    problem = validate_messages(body)
    if problem is not None:
        return Failure(400, "invalid_request_error", problem)
    prompt = anthropic_prompt(body)
    failure = _strict(runtime, body, prompt.input_tokens, betas)
    if failure is not None:
        return failure
    try:
        resolution = runtime.resolve(prompt.last_user_text, prompt.model)
    except DirectiveError as exc:
        return Failure(400, "invalid_request_error", f"fake directive: {exc}")
    return prompt, resolution


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    # the cache_creation split by TTL is part of usage in JSON and in message_start:
    # https://platform.claude.com/docs/en/build-with-claude/prompt-caching#tracking-cache-performance
    write_1h = reply.cache_creation_1h_input_tokens
    usage: dict[str, Any] = {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": reply.cache_creation_input_tokens - write_1h,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": output_tokens,
    }
    if reply.web_search_requests:
        # usage.server_tool_use counts the server tools' requests, both fields required (the SDKs' ServerToolUsage:
        # anthropic-sdk-python src/anthropic/types/server_tool_usage.py); web searches are billed per search
        usage["server_tool_use"] = {"web_search_requests": reply.web_search_requests, "web_fetch_requests": 0}
    return usage


def _block(reply: Reply, *, complete: bool) -> dict[str, Any]:
    if reply.block == "tool_use":
        tool_input = reply.tool_input if complete and reply.tool_input is not None else {}
        return {"type": "tool_use", "id": new_id("toolu_01"), "name": reply.tool_name, "input": tool_input}
    return {"type": "text", "text": reply.text if complete else ""}


def _delta(reply: Reply) -> dict[str, Any]:
    delta: dict[str, Any] = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence}
    if reply.stop_reason == "refusal":
        delta["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
    return delta


def message_json(reply: Reply, model: str, msg_id: str | None = None) -> dict[str, Any]:
    """The complete Messages response object."""
    message: dict[str, Any] = {
        "id": msg_id or new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(reply, complete=True)],
        **_delta(reply),
        "usage": {**_usage(reply, reply.output_tokens), "service_tier": "standard"},
    }
    return message


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json_bytes(data) + b"\n\n"


_TEXT_DELTA: Final = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
)
_JSON_DELTA: Final = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"input_json_delta","partial_json":'
)


def stream_frames(reply: Reply, model: str) -> list[Frame]:
    """The SSE events of a reply, each due at its place on the latency schedule."""
    start = {
        "type": "message_start",
        "message": {
            "id": new_id("msg_01"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(reply, 1),
        },
    }
    frames = [
        Frame(_event("message_start", start), 0.0),
        Frame(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": _block(reply, complete=False),
                },
            ),
            0.0,
        ),
        Frame(b'event: ping\ndata: {"type":"ping"}\n\n', 0.0),
    ]
    prefix = _JSON_DELTA if reply.block == "tool_use" else _TEXT_DELTA
    ttft, tps = reply.ttft_s, reply.tokens_per_s
    at = ttft
    for i, token in enumerate(reply.tokens):
        at = ttft + (i / tps if tps > 0 else 0.0)
        data = prefix + encode_basestring(token).encode() + b"}}\n\n"
        frames.append(Frame(data, at, content=1))
    end = {"type": "message_delta", "delta": _delta(reply), "usage": _usage(reply, reply.output_tokens)}
    frames += [
        Frame(_event("content_block_stop", {"type": "content_block_stop", "index": 0}), at),
        Frame(_event("message_delta", end), at),
        Frame(b'event: message_stop\ndata: {"type":"message_stop"}\n\n', at),
    ]
    return frames


def _cut(frames: list[Frame], after: int, kind: str, request_id: str) -> list[Frame]:
    kept = frames[:after]
    at = kept[-1].at if kept else 0.0
    if kind == "stream_error":
        error = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": request_id,
        }
        kept.append(Frame(_event("error", error), at))
    elif kind == "malformed":
        kept.append(Frame(b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\n\n', at))
    return kept


class AnthropicDialect:
    """Renders replies as Messages API objects and SSE events."""

    def failure_body(self, failure: Failure, request_id: str) -> dict[str, Any]:
        return error_json(failure, request_id)

    def response_json(self, reply: Reply, prompt: Prompt) -> dict[str, Any]:
        return message_json(reply, prompt.model)

    def frames(self, reply: Reply, prompt: Prompt) -> list[Frame]:
        return stream_frames(reply, prompt.model)

    def cut(self, frames: list[Frame], after: int, kind: str, request_id: str) -> list[Frame]:
        return _cut(frames, after, kind, request_id)


ANTHROPIC: Final = AnthropicDialect()


def _cached(runtime: Runtime, prompt: Prompt, resolution: Resolution, body: dict[str, Any]) -> Prompt:
    """``prompt`` with the prompt cache's share of its input tokens; the cache is read and written unless the
    request fails before the model runs (an HTTP-status fault or a timeout)."""
    fault = resolution.fault
    if fault is not None and (fault.kind in STATUS_FAULTS or fault.kind == "timeout"):
        return prompt
    usage = runtime.cache.apply(prompt.model, body, prompt.input_tokens)
    if usage == CacheUsage():
        return prompt
    return replace(
        prompt,
        input_tokens=prompt.input_tokens - usage.read - usage.write_5m - usage.write_1h,
        cache_read_input_tokens=usage.read,
        cache_write_5m_input_tokens=usage.write_5m,
        cache_write_1h_input_tokens=usage.write_1h,
    )


async def messages(runtime: Runtime, ex: WireExchange, body: Any, start: float) -> None:
    prepared = prepare(runtime, body, _betas(ex.record.headers))
    if isinstance(prepared, Failure):
        await send_failure(ANTHROPIC, ex, prepared)
        return
    prompt, resolution = prepared
    await serve(ANTHROPIC, runtime, ex, _cached(runtime, prompt, resolution, body), resolution, start=start)


async def count_tokens(runtime: Runtime, ex: WireExchange, body: Any) -> None:
    problem = (
        "body: the request body is not valid JSON"
        if body is BAD_JSON
        else validate_messages(body, require_max_tokens=False)
    )
    if problem is not None:
        await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", problem))
        return
    prompt = anthropic_prompt(body)
    ex.record.model = prompt.model
    if not serves(prompt.model, runtime.scenario, runtime.today()):
        await send_failure(ANTHROPIC, ex, Failure(404, "not_found_error", model_not_found(prompt.model)))
        return
    await ex.json(200, {"input_tokens": prompt.input_tokens})


async def list_models(runtime: Runtime, ex: WireExchange, query: dict[str, str]) -> None:
    page = model_page(runtime, query)
    if isinstance(page, str):
        await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", page))
        return
    await ex.json(200, page)


async def get_model(runtime: Runtime, ex: WireExchange, model_id: str) -> None:
    model = find_model(runtime, model_id)
    if model is None:
        await send_failure(ANTHROPIC, ex, Failure(404, "not_found_error", model_not_found(model_id)))
        return
    await ex.json(200, model)
