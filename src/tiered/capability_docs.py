"""The tables of docs/routing.md that come from the capability table, rendered so a test can keep them true.

``python -m tiered.capability_docs docs/routing.md`` rewrites the generated blocks of that file (between
``<!-- generated:<name> -->`` and ``<!-- end:<name> -->``); ``tests/core/test_routing_docs.py`` fails when the
file differs from what this module renders. The feature table is made by running the routing policy itself on
one example request per feature, so it shows what the code does, not what someone remembered.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .cascade.capabilities import Capabilities, known_models
from .cascade.policy import Reply, TriageRead, cascade
from .config import RouteSettings, Settings
from .decision import AttemptRole

__all__ = ["BLOCKS", "example", "main", "render", "render_features", "render_models", "update"]

_USER = {"role": "user", "content": "What is 2+2?"}
_DOCUMENT = {
    "role": "user",
    "content": [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
            "citations": {"enabled": True},
        },
        {"type": "text", "text": "What colour is the sky?"},
    ],
}
_TOOL = {"name": "lookup", "description": "Look a word up.", "input_schema": {"type": "object"}}
_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
_FORMAT = {"output_config": {"format": {"type": "json_schema", "schema": _SCHEMA}}}
_PREFILL = {"messages": [_USER, {"role": "assistant", "content": "{"}]}
_THINKING = {"thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 4000}
_MCP = {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]}

# (feature, example in words, extra request fields)
_EXAMPLES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("plain request", "messages only", {}),
    ("tools, `tool_choice` auto", "a client tool offered", {"tools": [_TOOL]}),
    ("caller's structured output", "`output_config.format`", _FORMAT),
    ("sampling parameters", "`temperature` + `top_p`", {"temperature": 0.3, "top_p": 0.9}),
    ("assistant prefill", "last message from the assistant", _PREFILL),
    ("extended thinking", "`thinking: enabled`, 2,000-token budget", _THINKING),
    ("adaptive thinking", "`thinking: adaptive`", {"thinking": {"type": "adaptive"}}),
    ("forced tool", "`tool_choice: any`", {"tools": [_TOOL], "tool_choice": {"type": "any"}}),
    ("effort", "`output_config.effort: low`", {"output_config": {"effort": "low"}}),
    ("long prompt", "about 250k tokens", {"messages": [{"role": "user", "content": "word " * 150_000}]}),
    ("large `max_tokens`", "`max_tokens: 100000`", {"max_tokens": 100_000}),
    ("citations", "a document with citations enabled", {"messages": [_DOCUMENT]}),
    ("remote MCP servers", "`mcp_servers`", _MCP),
    ("server tools", "web search", {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
    ("context management", "`context_management`", {"context_management": {"edits": []}}),
)  # fmt: skip


# (feature, example in words, the request's anthropic-beta flags): a plain request sent with a header
_BETA_EXAMPLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("model-specific beta", "`anthropic-beta: task-budgets-2026-03-13`", ("task-budgets-2026-03-13",)),
)


def example(feature: str) -> dict[str, Any]:
    """The example request of the feature table's row ``feature`` (tests route the same requests)."""
    extra = next(extra for name, _, extra in _EXAMPLES if name == feature)
    return {"model": "tiered", "max_tokens": 1024, "messages": [_USER], **extra}


def _where(request: dict[str, Any], route: RouteSettings, betas: tuple[str, ...] = ()) -> str:
    plan = cascade(request, route, betas=betas)
    call = next(plan)
    if call.role is AttemptRole.TRIAGE:
        if call.tier == 0:
            return f"triaged by {call.model}"
        # triage starts past the first tier: the escalation's final call carries why
        final = plan.send(Reply(triage=TriageRead(confidence=0.0, answer_kind="null")))
        return f"triaged by {call.model}, `{final.reason}`: {(final.detail or '').split('; triaged by')[0]}"
    try:
        plan.send(Reply())
    except StopIteration as stop:
        step = stop.value
        detail = (step.detail or "").split("; answered by")[0]
        why = f", `{step.reason}`: {detail}" if detail else f", `{step.reason}`" if step.reason else ""
        return f"{call.model} directly{why}"
    return call.model  # pragma: no cover - a direct call always ends the cascade


def render_features() -> str:
    routes = Settings().routes
    default, three = routes["default"], routes["three-tier"]
    lines = [
        "| request feature | example | `default` route | `three-tier` route |",
        "|---|---|---|---|",
    ]
    for feature, words, _ in _EXAMPLES:
        request = example(feature)
        lines.append(f"| {feature} | {words} | {_where(request, default)} | {_where(request, three)} |")
    for feature, words, betas in _BETA_EXAMPLES:
        request = example("plain request")
        lines.append(f"| {feature} | {words} | {_where(request, default, betas)} | {_where(request, three, betas)} |")
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _model_row(caps: Capabilities) -> str:
    thinking = ", ".join(sorted(caps.thinking)) or "none"
    if caps.thinking_required:
        thinking += " (always on)"
    window = "1M" if caps.context_window == 1_000_000 else f"{caps.context_window // 1000}k"
    output = f"{caps.max_output // 1000}k"
    lifecycle = f"retired {caps.retired}" if caps.retired else "active"
    if caps.deprecated:
        lifecycle = f"deprecated {caps.deprecated}, " + lifecycle.replace("retired", "retires")
    cells = (
        f"`{caps.model}`",
        window,
        output,
        _yes(caps.prefill),
        thinking,
        _yes(caps.effort),
        _yes(caps.structured_outputs),
        _yes(caps.forced_tool_choice),
        caps.sampling,
        lifecycle,
    )
    return "| " + " | ".join(cells) + " |"


def render_models() -> str:
    lines = [
        "| model | window | max output | prefill | thinking | effort | structured outputs | forced tool | "
        "sampling | lifecycle |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(_model_row(caps) for caps in known_models())
    return "\n".join(lines)


BLOCKS = {"features": render_features, "models": render_models}


def render(name: str) -> str:
    return BLOCKS[name]()


def update(text: str) -> str:
    """``text`` with every generated block replaced by its current rendering."""
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- end:{name} -->)", re.DOTALL)
        block = make().replace("\\", "\\\\")  # a replacement template: escape backslashes
        text = pattern.sub(rf"\g<1>{block}\n\g<2>", text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated blocks of the markdown files named on the command line."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        path.write_text(update(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
