"""Anthropic Messages request -> OpenAI chat-completions request (for the OpenAI-compatible adapter).

Choices made where the formats differ:

- ``system`` blocks become one ``system`` message (texts joined by a blank line).
- A user turn's ``tool_result`` blocks become ``tool`` messages placed before the rest of the turn; a result
  marked ``is_error`` is prefixed with ``Error:`` (chat completions has no such flag).
- ``thinking`` and ``redacted_thinking`` blocks are dropped (they only make sense to Anthropic models);
  ``cache_control``, ``citations``, ``thinking``, ``top_k`` and other Anthropic-only settings are dropped.
- Server tools, images in tool results and file-id sources have no equivalent and raise
  :class:`InvalidFieldError`.
- ``output_config.format`` becomes ``response_format`` ``json_schema`` named ``tiered_triage`` for the triage
  schema (``output`` otherwise), strict only when the schema fits OpenAI's strict subset.
- A forced tool (``tool_choice`` ``tool``) becomes a forced function; ``any`` becomes ``required``.
- ``stream`` asks for ``stream_options.include_usage`` so that the usage arrives at the end of the stream.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from tiered.cascade.triage import TRIAGE_TOOL_NAME
from tiered.openai_compat._common import (
    InvalidFieldError,
    expect_bool,
    expect_dict,
    expect_int,
    expect_list,
    expect_str,
)
from tiered.openai_compat._responses import tool_arguments
from tiered.openai_compat._schema import is_strict_compatible

__all__ = ["MaxTokensField", "messages_request_to_chat"]

MaxTokensField = Literal["max_tokens", "max_completion_tokens"]

_TOOL_CHOICES: Final = {"auto": "auto", "any": "required", "none": "none"}
_DROPPED_BLOCKS: Final = frozenset({"thinking", "redacted_thinking"})


def messages_request_to_chat(
    request: object, *, max_tokens_field: MaxTokensField = "max_completion_tokens"
) -> dict[str, Any]:
    """Translate a Messages request body. ``max_tokens_field`` names the limit the server understands:
    OpenAI wants ``max_completion_tokens``; some OpenAI-compatible servers know only ``max_tokens``."""
    req = expect_dict(request, "body")
    out: dict[str, Any] = {"model": expect_str(req.get("model"), "model", non_empty=True)}
    messages: list[dict[str, Any]] = []
    system = _system_text(req.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, item in enumerate(expect_list(req.get("messages"), "messages")):
        messages.extend(_message(item, f"messages.{i}"))
    out["messages"] = messages
    if req.get("max_tokens") is not None:
        out[max_tokens_field] = expect_int(req["max_tokens"], "max_tokens", minimum=1)
    if req.get("stop_sequences"):
        stops = expect_list(req["stop_sequences"], "stop_sequences")
        out["stop"] = [expect_str(stop, f"stop_sequences.{i}") for i, stop in enumerate(stops)]
    for key in ("temperature", "top_p"):
        if req.get(key) is not None:
            out[key] = req[key]
    metadata = req.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]

    tools = [_tool(tool, f"tools.{i}") for i, tool in enumerate(expect_list(req.get("tools") or [], "tools"))]
    if tools:
        out["tools"] = tools
    if req.get("tool_choice") is not None:
        choice = expect_dict(req["tool_choice"], "tool_choice")
        kind = choice.get("type")
        if kind == "tool":
            name = expect_str(choice.get("name"), "tool_choice.name", non_empty=True)
            out["tool_choice"] = {"type": "function", "function": {"name": name}}
        elif kind in _TOOL_CHOICES:
            out["tool_choice"] = _TOOL_CHOICES[kind]
        else:
            raise InvalidFieldError("tool_choice.type", f"must be auto, any, tool or none, got {kind!r}")
        if tools and choice.get("disable_parallel_tool_use") is not None:
            disable = expect_bool(choice["disable_parallel_tool_use"], "tool_choice.disable_parallel_tool_use")
            if disable and kind != "none":
                out["parallel_tool_calls"] = False
        if not tools:
            out.pop("tool_choice")

    output_config = req.get("output_config")
    if isinstance(output_config, dict) and output_config.get("format") is not None:
        out["response_format"] = _response_format(output_config["format"])
    if req.get("stream") is not None and expect_bool(req["stream"], "stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _system_text(system: object) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    texts = []
    for i, item in enumerate(expect_list(system, "system")):
        block = expect_dict(item, f"system.{i}")
        if block.get("type") != "text":
            raise InvalidFieldError(f"system.{i}.type", f"must be 'text', got {block.get('type')!r}")
        texts.append(expect_str(block.get("text"), f"system.{i}.text"))
    return "\n\n".join(text for text in texts if text)


def _message(item: object, path: str) -> list[dict[str, Any]]:
    message = expect_dict(item, path)
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise InvalidFieldError(f"{path}.role", f"must be one of user, assistant, got {role!r}")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = [
        expect_dict(block, f"{path}.content.{i}") for i, block in enumerate(expect_list(content, f"{path}.content"))
    ]
    if role == "assistant":
        return [_assistant(blocks, f"{path}.content")]
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        block_path = f"{path}.content.{i}"
        kind = block.get("type")
        if kind == "tool_result":
            tool_messages.append(_tool_result(block, block_path))
        elif kind == "text":
            parts.append({"type": "text", "text": expect_str(block.get("text"), f"{block_path}.text")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, block_path)}})
        elif kind == "document":
            parts.append(_document(block, block_path))
        elif kind not in _DROPPED_BLOCKS:
            raise _untranslatable(f"{block_path}.type", kind)
    if not parts:
        return tool_messages
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tool_messages, {"role": "user", "content": parts[0]["text"]}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _untranslatable(path: str, kind: object) -> InvalidFieldError:
    return InvalidFieldError(path, f"{kind!r} blocks cannot be sent to an OpenAI-compatible model")


def _assistant(blocks: list[dict[str, Any]], path: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text":
            texts.append(expect_str(block.get("text"), f"{path}.{i}.text"))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": expect_str(block.get("id"), f"{path}.{i}.id", non_empty=True),
                    "type": "function",
                    "function": {
                        "name": expect_str(block.get("name"), f"{path}.{i}.name", non_empty=True),
                        "arguments": tool_arguments(expect_dict(block.get("input", {}), f"{path}.{i}.input")),
                    },
                }
            )
        elif kind not in _DROPPED_BLOCKS:
            raise _untranslatable(f"{path}.{i}.type", kind)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_result(block: dict[str, Any], path: str) -> dict[str, Any]:
    content = block.get("content")
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        texts = []
        for i, item in enumerate(expect_list(content, f"{path}.content")):
            part = expect_dict(item, f"{path}.content.{i}")
            if part.get("type") != "text":
                raise InvalidFieldError(
                    f"{path}.content.{i}.type",
                    f"only text tool results can be sent to an OpenAI-compatible model, got {part.get('type')!r}",
                )
            texts.append(expect_str(part.get("text"), f"{path}.content.{i}.text"))
        text = "\n".join(texts)
    if block.get("is_error") is True:
        text = f"Error: {text}"
    return {
        "role": "tool",
        "tool_call_id": expect_str(block.get("tool_use_id"), f"{path}.tool_use_id", non_empty=True),
        "content": text,
    }


def _image_url(block: dict[str, Any], path: str) -> str:
    source = expect_dict(block.get("source"), f"{path}.source")
    kind = source.get("type")
    if kind == "url":
        return expect_str(source.get("url"), f"{path}.source.url", non_empty=True)
    if kind == "base64":
        media_type = expect_str(source.get("media_type"), f"{path}.source.media_type", non_empty=True)
        data = expect_str(source.get("data"), f"{path}.source.data")
        return f"data:{media_type};base64,{data}"
    raise InvalidFieldError(
        f"{path}.source.type", f"must be url or base64 for an OpenAI-compatible model, got {kind!r}"
    )


def _document(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = expect_dict(block.get("source"), f"{path}.source")
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": expect_str(source.get("data"), f"{path}.source.data")}
    if kind == "base64" and source.get("media_type") == "application/pdf":
        data = expect_str(source.get("data"), f"{path}.source.data")
        title = block.get("title")
        filename = f"{title}.pdf" if isinstance(title, str) and title else "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": f"data:application/pdf;base64,{data}"}}
    raise InvalidFieldError(
        f"{path}.source", "only text and base64 PDF documents can be sent to an OpenAI-compatible model"
    )


def _tool(item: object, path: str) -> dict[str, Any]:
    tool = expect_dict(item, path)
    if tool.get("type") not in (None, "custom"):
        raise InvalidFieldError(
            f"{path}.type", f"server tool {tool.get('type')!r} cannot be used with an OpenAI-compatible model"
        )
    function: dict[str, Any] = {"name": expect_str(tool.get("name"), f"{path}.name", non_empty=True)}
    if tool.get("description") is not None:
        function["description"] = expect_str(tool["description"], f"{path}.description")
    function["parameters"] = expect_dict(tool.get("input_schema"), f"{path}.input_schema")
    if tool.get("strict") is True:
        function["strict"] = True
    return {"type": "function", "function": function}


def _response_format(value: object) -> dict[str, Any]:
    fmt = expect_dict(value, "output_config.format")
    if fmt.get("type") != "json_schema":
        raise InvalidFieldError("output_config.format.type", f"must be 'json_schema', got {fmt.get('type')!r}")
    schema = expect_dict(fmt.get("schema"), "output_config.format.schema")
    properties = schema.get("properties")
    is_triage = isinstance(properties, dict) and set(properties) == {"confidence", "answer"}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": TRIAGE_TOOL_NAME if is_triage else "output",
            "schema": schema,
            "strict": is_strict_compatible(schema),
        },
    }
