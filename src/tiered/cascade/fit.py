"""Can a tier's model take a request as it is? Pure checks of a request against the capability table.

Two questions, asked by :func:`tiered.cascade.policy.cascade`:

- :func:`untriageable`: features no triage may carry, whatever the model. Remote MCP servers (a triage would
  run the caller's remote tools, and the final tier would run them again), server tools such as web search or
  code execution (a triage runs with ``tool_choice: none``, so a confident answer would ship without the
  search the caller asked for), citations on documents (the triage's ``output_config.format`` cannot be
  combined with citations, and a shipped answer would lose its citation blocks) and ``context_management``
  (context editing, which the table does not model per model).
- :func:`misfit`: the first feature of the request that a model does not take, after the documented
  :mod:`rewrites <tiered.cascade.rewrites>` (sampling parameters, ``enabled`` -> ``adaptive`` thinking and a
  ``disabled`` thinking where thinking is always on are rewritten, so they are no misfit). With ``triage``, the
  triage's own mechanism is checked too: structured outputs, or a forced tool call.

A model the table does not know is assumed to take every request (its upstream decides, as before the table
existed); the operator is warned about it at start-up.

The context window is checked with a local estimate of the prompt's tokens (no I/O, no tokenizer): text is
counted at :data:`CHARS_PER_TOKEN` characters per token, an image at :data:`IMAGE_TOKENS`. English text runs
about 4 characters per token, and the tokenizer of Claude Opus 4.7 and later models counts about 30% more
tokens for the same text than earlier ones, so 3 characters per token over-estimates most prompts: that is
the margin. A request whose estimate plus ``max_tokens`` exceeds a model's window is not sent to it; an
over-estimate can only send a request to a larger tier, never to one whose window it overflows. (The API
itself answers 400 when "prompt and output tokens exceed the context window", for Claude Sonnet 3.7 and later:
https://platform.claude.com/docs/en/build-with-claude/context-windows; the 30% is from
https://platform.claude.com/docs/en/models/haiku-5-5/overview.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .betas import unsupported_beta
from .capabilities import Capabilities, capabilities
from .triage import TriageMode, caller_output_schema

__all__ = ["CHARS_PER_TOKEN", "IMAGE_TOKENS", "Misfit", "estimate_input_tokens", "misfit", "untriageable"]

CHARS_PER_TOKEN: Final = 3
# "about 1,600 tokens" for an image at the largest size the API keeps unscaled
# (https://platform.claude.com/docs/en/build-with-claude/vision)
IMAGE_TOKENS: Final = 1_600
# server tools run on Anthropic's side (https://platform.claude.com/docs/en/agents-and-tools/tool-use/server-tools);
# client tools (custom ones, bash, text editor, computer use, memory) are run by the caller
_SERVER_TOOL_PREFIXES: Final = ("web_search", "web_fetch", "code_execution", "tool_search_tool")


@dataclass(frozen=True, slots=True)
class Misfit:
    """Why a model (or any triage) cannot take a request: the ``feature`` (a short name, e.g. ``prefill``) and a
    ``detail`` naming the model where there is one."""

    feature: str
    detail: str


def _walk_chars(values: list[Any]) -> tuple[int, int]:
    """(characters of text, images) in request values; base64 image data counts as one image. A loop over a
    stack, not a recursion: this runs for every routed request (a call per value cost more than the counting)."""
    chars = images = 0
    pending = values
    while pending:
        value = pending.pop()
        if value is None:
            continue  # an absent field (most requests have no system prompt or tools)
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            if value.get("type") == "image":
                images += 1
            else:
                chars += sum(map(len, value))  # the keys
                pending.extend(value.values())
        elif isinstance(value, (int, float)):  # a tuple: ``int | float`` builds a union on every call
            chars += len(str(value))
    return chars, images


def estimate_input_tokens(request: dict[str, Any]) -> int:
    """A local, deliberately high estimate of the prompt's input tokens (see the module docstring)."""
    chars, images = _walk_chars([request.get("system"), request.get("messages"), request.get("tools")])
    return -(-chars // CHARS_PER_TOKEN) + images * IMAGE_TOKENS


def _documents_with_citations(request: dict[str, Any]) -> bool:
    for message in request.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and block.get("type") == "document":
                citations = block.get("citations")
                if isinstance(citations, dict) and citations.get("enabled") is True:
                    return True
    return False


def _server_tool(request: dict[str, Any]) -> str | None:
    for tool in request.get("tools") or ():
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind.startswith(_SERVER_TOOL_PREFIXES):
            return kind
    return None


def untriageable(request: dict[str, Any]) -> Misfit | None:
    """A feature no triage may carry, whatever the model (see the module docstring), or ``None``."""
    if request.get("mcp_servers"):
        return Misfit("mcp_servers", "a triage would run the caller's remote MCP tools")
    server_tool = _server_tool(request)
    if server_tool is not None:
        return Misfit("server_tool", f"{server_tool} would not run in a triage (tool_choice none)")
    if _documents_with_citations(request):
        return Misfit("citations", "a triage answer cannot carry citation blocks")
    if request.get("context_management") is not None:
        return Misfit("context_management", "context editing is never triaged")
    return None


def _thinking_misfit(request: dict[str, Any], caps: Capabilities) -> Misfit | None:
    thinking = request.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "adaptive" and "adaptive" not in caps.thinking:
        return Misfit("thinking", f"{caps.model} does not take adaptive thinking")
    if kind == "enabled" and not caps.thinking:
        return Misfit("thinking", f"{caps.model} does not take extended thinking")
    return None


def _output_misfit(request: dict[str, Any], caps: Capabilities) -> Misfit | None:
    # each feature is looked for only when the model lacks it (most models take them all)
    if not caps.effort:
        config = request.get("output_config")
        if isinstance(config, dict) and "effort" in config:
            return Misfit("effort", f"{caps.model} does not take output_config.effort")
    if not caps.structured_outputs and (
        caller_output_schema(request) is not None
        or "output_format" in request
        or any(isinstance(t, dict) and t.get("strict") is True for t in request.get("tools") or ())
    ):
        return Misfit("structured_outputs", f"{caps.model} does not take structured outputs")
    if not caps.citations and _documents_with_citations(request):
        return Misfit("citations", f"{caps.model} does not take citations")
    return None


def _size_misfit(request: dict[str, Any], caps: Capabilities) -> Misfit | None:
    max_tokens = request.get("max_tokens")
    out = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else 0
    if out > caps.max_output:
        return Misfit("max_tokens", f"max_tokens {out} is over {caps.model}'s {caps.max_output} output ceiling")
    estimate = estimate_input_tokens(request)
    if estimate + out > caps.context_window:
        return Misfit(
            "context_window",
            f"about {estimate} input tokens (local estimate) + max_tokens {out} exceed {caps.model}'s "
            f"{caps.context_window}-token window",
        )
    return None


def misfit(
    request: dict[str, Any], model: str, triage: TriageMode | None = None, betas: Sequence[str] = ()
) -> Misfit | None:
    """The first feature of ``request`` that ``model`` (a bare model id) does not take, or ``None``. With
    ``triage``, also whether the model can run a triage of that mode. ``betas`` are the request's
    ``anthropic-beta`` flags (see :mod:`tiered.cascade.betas`)."""
    caps = capabilities(model)
    if not caps.known:
        return None
    beta = unsupported_beta(betas, model)
    if beta is not None:
        return Misfit("anthropic-beta", f"{caps.model} does not take the {beta} beta")
    messages = request.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        if not caps.prefill:
            return Misfit("prefill", f"{caps.model} rejects an assistant prefill")
        thinking = request.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
            # "You cannot pre-fill responses when thinking is enabled", on every model:
            # https://platform.claude.com/docs/en/build-with-claude/extended-thinking#feature-compatibility
            return Misfit("prefill", f"{caps.model} takes no assistant prefill with thinking on")
    tool_choice = request.get("tool_choice")
    forced = isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool")
    if (forced or triage == "tool") and not caps.forced_tool_choice:
        return Misfit("tool_choice", f"{caps.model} rejects a forced tool_choice")
    if triage == "structured" and not caps.structured_outputs:
        return Misfit("structured_outputs", f"{caps.model} cannot run a structured-output triage")
    return _thinking_misfit(request, caps) or _output_misfit(request, caps) or _size_misfit(request, caps)
