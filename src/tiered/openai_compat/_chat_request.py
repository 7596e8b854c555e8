"""OpenAI chat-completions request -> Anthropic Messages request (for the proxy's OpenAI endpoint).

Choices made where the formats differ:

- ``system`` and ``developer`` messages, wherever they are, become the Messages ``system`` blocks in order.
- Consecutive turns of the same role are merged (Messages alternates roles); ``tool`` messages become
  ``tool_result`` blocks of a user turn, placed before any text of that turn.
- ``max_completion_tokens`` wins over ``max_tokens``; without either, :data:`DEFAULT_MAX_TOKENS` is used
  (Messages requires a limit).
- ``temperature`` above 1 is clamped to 1 (the Messages range is 0-1); ``top_p`` of 1 is dropped (it is the
  default, and some models refuse ``temperature`` and ``top_p`` together).
- ``response_format`` ``json_schema`` becomes ``output_config.format``; ``json_object`` has no Messages
  equivalent and becomes one more system block asking for a single JSON object.
- ``user`` becomes ``metadata.user_id``; ``top_k`` (a common extension) is kept.
- ``metadata``, ``store``, ``seed``, ``service_tier``, ``prompt_cache_key`` and ``safety_identifier`` are
  accepted and ignored; ``n``, ``logprobs``, ``top_logprobs``, penalties, ``logit_bias`` and ``modalities``
  are accepted only at their defaults. Anything else is refused with :class:`InvalidFieldError`, so a caller
  never silently loses a feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from tiered.openai_compat._common import (
    InvalidFieldError,
    expect_bool,
    expect_dict,
    expect_int,
    expect_list,
    expect_number,
    expect_str,
)

__all__ = ["DEFAULT_MAX_TOKENS", "JSON_OBJECT_INSTRUCTION", "MessagesRequest", "chat_request_to_messages"]

DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` of a translated request that set neither ``max_completion_tokens`` nor ``max_tokens``."""

JSON_OBJECT_INSTRUCTION: Final = "Reply with a single valid JSON object and nothing else: no prose and no code fences."

_IGNORED: Final = frozenset({"metadata", "store", "seed", "service_tier", "prompt_cache_key", "safety_identifier"})
_DEFAULT_ONLY: Final[dict[str, tuple[object, ...]]] = {
    "n": (1,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logit_bias": ({},),
    "modalities": (["text"],),
}
_HANDLED: Final = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "top_k",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
    }
)
_DEPRECATED: Final = {"functions": "tools", "function_call": "tool_choice"}
_ROLES: Final = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A chat request in the Messages format, with what the OpenAI answer needs to know.

    ``body`` has ``stream: true`` when ``stream`` is set; ``include_usage`` is
    ``stream_options.include_usage`` (a final usage chunk is wanted).
    """

    body: dict[str, Any]
    stream: bool = False
    include_usage: bool = False


def chat_request_to_messages(request: object, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> MessagesRequest:
    """Translate an OpenAI chat-completions request body; raise :class:`InvalidFieldError` naming the first
    bad field."""
    req = expect_dict(request, "body")
    fields = {key: value for key, value in req.items() if value is not None}
    for key, value in fields.items():
        _check_supported(key, value)

    body: dict[str, Any] = {"model": expect_str(fields.get("model"), "model", non_empty=True)}
    system, messages = _messages(fields.get("messages"))

    max_tokens = fields.get("max_completion_tokens", fields.get("max_tokens"))
    name = "max_completion_tokens" if "max_completion_tokens" in fields else "max_tokens"
    body["max_tokens"] = expect_int(max_tokens, name, minimum=1) if max_tokens is not None else default_max_tokens

    response_format = fields.get("response_format")
    if response_format is not None:
        output_format = _response_format(response_format)
        if output_format == "json_object":
            system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
        elif output_format is not None:
            body["output_config"] = {"format": output_format}
    if system:
        body["system"] = system
    body["messages"] = messages

    if "stop" in fields:
        stop = _stop(fields["stop"])
        if stop:
            body["stop_sequences"] = stop
    if "temperature" in fields:
        body["temperature"] = min(expect_number(fields["temperature"], "temperature", minimum=0, maximum=2), 1.0)
    if "top_p" in fields:
        top_p = expect_number(fields["top_p"], "top_p", minimum=0, maximum=1)
        if top_p < 1:
            body["top_p"] = top_p
    if "top_k" in fields:
        body["top_k"] = expect_int(fields["top_k"], "top_k")
    if "user" in fields:
        body["metadata"] = {"user_id": expect_str(fields["user"], "user")}

    tools = _tools(fields["tools"]) if "tools" in fields else []
    tool_choice = _tool_choice(fields.get("tool_choice"), tools)
    parallel = expect_bool(fields.get("parallel_tool_calls", True), "parallel_tool_calls")
    if not parallel and tools and (tool_choice is None or tool_choice["type"] != "none"):
        tool_choice = {**(tool_choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if tools:
        body["tools"] = tools
    if tool_choice is not None:
        body["tool_choice"] = tool_choice

    stream = expect_bool(fields["stream"], "stream") if "stream" in fields else False
    include_usage = False
    if "stream_options" in fields:
        options = expect_dict(fields["stream_options"], "stream_options")
        if options.get("include_usage") is not None:
            include_usage = expect_bool(options["include_usage"], "stream_options.include_usage")
    if stream:
        body["stream"] = True
    return MessagesRequest(body=body, stream=stream, include_usage=stream and include_usage)


def _check_supported(key: str, value: object) -> None:
    if key in _HANDLED or key in _IGNORED:
        return
    if key in _DEFAULT_ONLY:
        if value not in _DEFAULT_ONLY[key] or isinstance(value, bool) != isinstance(_DEFAULT_ONLY[key][0], bool):
            allowed = json.dumps(_DEFAULT_ONLY[key][0])
            raise InvalidFieldError(key, f"only {allowed} is supported by tiered's OpenAI endpoint")
        return
    if key in _DEPRECATED:
        raise InvalidFieldError(key, f"is deprecated and not supported; use {_DEPRECATED[key]!r} instead")
    raise InvalidFieldError(key, "is not supported by tiered's OpenAI endpoint; remove it")


def _text_of_parts(content: object, path: str, *, allow: tuple[str, ...] = ("text",)) -> list[str]:
    """The texts of a string or a list of text parts (system, developer, tool and assistant content)."""
    if isinstance(content, str):
        return [content]
    texts = []
    for i, item in enumerate(expect_list(content, path)):
        part = expect_dict(item, f"{path}.{i}")
        kind = part.get("type")
        if kind not in allow:
            raise InvalidFieldError(f"{path}.{i}.type", f"must be one of {', '.join(allow)} here, got {kind!r}")
        texts.append(expect_str(part.get(kind), f"{path}.{i}.{kind}"))
    return texts


def _messages(value: object) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = expect_list(value, "messages")
    if not items:
        raise InvalidFieldError("messages", "must contain at least one message")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        path = f"messages.{i}"
        message = expect_dict(item, path)
        role = message.get("role")
        if role == "function":
            raise InvalidFieldError(f"{path}.role", "'function' messages are deprecated; use tool messages")
        if role not in _ROLES:
            raise InvalidFieldError(f"{path}.role", f"must be one of {', '.join(_ROLES)}, got {role!r}")
        content = message.get("content")
        if role in ("system", "developer"):
            texts = _text_of_parts(content, f"{path}.content")
            system.extend({"type": "text", "text": text} for text in texts if text)
            continue
        if role == "user":
            blocks = _user_blocks(content, f"{path}.content")
            _append_turn(turns, "user", blocks)
        elif role == "tool":
            tool_use_id = expect_str(message.get("tool_call_id"), f"{path}.tool_call_id", non_empty=True)
            text = "".join(_text_of_parts(content, f"{path}.content"))
            _append_turn(turns, "user", [{"type": "tool_result", "tool_use_id": tool_use_id, "content": text}])
        else:
            _append_turn(turns, "assistant", _assistant_blocks(message, path))
    if not turns:
        raise InvalidFieldError("messages", "must contain a user or assistant message, not only system ones")
    for turn in turns:
        blocks = turn["content"]
        if turn["role"] == "user":
            # Messages wants the tool results first in a turn that answers tool calls.
            blocks.sort(key=lambda block: block["type"] != "tool_result")
        if len(blocks) == 1 and blocks[0]["type"] == "text" and set(blocks[0]) == {"type", "text"}:
            turn["content"] = blocks[0]["text"]
    return system, turns


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _user_blocks(content: object, path: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    for i, item in enumerate(expect_list(content, path)):
        part_path = f"{path}.{i}"
        part = expect_dict(item, part_path)
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": expect_str(part.get("text"), f"{part_path}.text")})
        elif kind == "image_url":
            image = expect_dict(part.get("image_url"), f"{part_path}.image_url")
            url = expect_str(image.get("url"), f"{part_path}.image_url.url", non_empty=True)
            blocks.append({"type": "image", "source": _source(url, f"{part_path}.image_url.url", "image/")})
        elif kind == "file":
            file = expect_dict(part.get("file"), f"{part_path}.file")
            if "file_data" not in file:
                raise InvalidFieldError(f"{part_path}.file", "only inline file_data is supported, not file_id")
            data = expect_str(file.get("file_data"), f"{part_path}.file.file_data", non_empty=True)
            source = _source(data, f"{part_path}.file.file_data", "application/pdf")
            if source["type"] != "base64":
                raise InvalidFieldError(f"{part_path}.file.file_data", "must be a base64 data: URL")
            blocks.append({"type": "document", "source": source})
        else:
            raise InvalidFieldError(f"{part_path}.type", f"must be one of text, image_url, file, got {kind!r}")
    return blocks


def _source(url: str, path: str, media_prefix: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type.startswith(media_prefix):
            raise InvalidFieldError(path, f"must be a data:{media_prefix}...;base64, URL or an https URL")
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise InvalidFieldError(path, "must be a data: URL or an http(s) URL")


def _assistant_blocks(message: dict[str, Any], path: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    content = message.get("content")
    if content is not None:
        texts = _text_of_parts(content, f"{path}.content", allow=("text", "refusal"))
        blocks.extend({"type": "text", "text": text} for text in texts if text)
    if message.get("function_call") is not None:
        raise InvalidFieldError(f"{path}.function_call", "is deprecated and not supported; use tool_calls")
    calls = message.get("tool_calls")
    for i, item in enumerate(expect_list(calls, f"{path}.tool_calls") if calls is not None else []):
        call_path = f"{path}.tool_calls.{i}"
        call = expect_dict(item, call_path)
        if call.get("type", "function") != "function":
            raise InvalidFieldError(f"{call_path}.type", f"must be 'function', got {call.get('type')!r}")
        function = expect_dict(call.get("function"), f"{call_path}.function")
        arguments = expect_str(function.get("arguments", ""), f"{call_path}.function.arguments")
        try:
            tool_input = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            tool_input = None
        if not isinstance(tool_input, dict):
            raise InvalidFieldError(f"{call_path}.function.arguments", "must be a JSON object in a string")
        blocks.append(
            {
                "type": "tool_use",
                "id": expect_str(call.get("id"), f"{call_path}.id", non_empty=True),
                "name": expect_str(function.get("name"), f"{call_path}.function.name", non_empty=True),
                "input": tool_input,
            }
        )
    return blocks


def _tools(value: object) -> list[dict[str, Any]]:
    tools = []
    for i, item in enumerate(expect_list(value, "tools")):
        path = f"tools.{i}"
        tool = expect_dict(item, path)
        if tool.get("type") != "function":
            raise InvalidFieldError(f"{path}.type", f"must be 'function', got {tool.get('type')!r}")
        function = expect_dict(tool.get("function"), f"{path}.function")
        converted: dict[str, Any] = {"name": expect_str(function.get("name"), f"{path}.function.name", non_empty=True)}
        if function.get("description") is not None:
            converted["description"] = expect_str(function["description"], f"{path}.function.description")
        schema = function.get("parameters")
        schema = dict(expect_dict(schema, f"{path}.function.parameters")) if schema is not None else {}
        if schema.setdefault("type", "object") != "object":
            raise InvalidFieldError(f"{path}.function.parameters.type", "must be 'object'")
        schema.setdefault("properties", {})
        converted["input_schema"] = schema
        if function.get("strict") is not None and expect_bool(function["strict"], f"{path}.function.strict"):
            converted["strict"] = True
        tools.append(converted)
    return tools


def _tool_choice(value: object, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise InvalidFieldError("tool_choice", f"must be auto, none, required or an object, got {value!r}")
        if not tools:
            if value == "required":
                raise InvalidFieldError("tool_choice", "'required' needs tools")
            return None
        return {"type": {"auto": "auto", "none": "none", "required": "any"}[value]}
    choice = expect_dict(value, "tool_choice")
    if choice.get("type") != "function":
        raise InvalidFieldError("tool_choice.type", f"must be 'function', got {choice.get('type')!r}")
    name = expect_str(
        expect_dict(choice.get("function"), "tool_choice.function").get("name"),
        "tool_choice.function.name",
        non_empty=True,
    )
    if not any(tool["name"] == name for tool in tools):
        raise InvalidFieldError("tool_choice.function.name", f"no tool named {name!r} in tools")
    return {"type": "tool", "name": name}


def _response_format(value: object) -> dict[str, Any] | str | None:
    fmt = expect_dict(value, "response_format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return "json_object"
    if kind == "json_schema":
        spec = expect_dict(fmt.get("json_schema"), "response_format.json_schema")
        schema = expect_dict(spec.get("schema"), "response_format.json_schema.schema")
        return {"type": "json_schema", "schema": schema}
    raise InvalidFieldError("response_format.type", f"must be text, json_object or json_schema, got {kind!r}")


def _stop(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    items = expect_list(value, "stop")
    return [text for i, item in enumerate(items) if (text := expect_str(item, f"stop.{i}"))]
