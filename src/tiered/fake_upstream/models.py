"""Per-model rules of the Messages API, read from the capability table (:mod:`tiered.cascade.capabilities`).

The fake answers a request the way the real API does when the model named cannot take it: 404
``not_found_error`` for a model it does not serve, 400 ``invalid_request_error`` for a prefill, a prompt over
the window, ``max_tokens`` over the model's output ceiling, sampling parameters, thinking modes or ``effort``
the model does not take. Each rule cites where the real API's behaviour (and, where known, its message) is
documented; where the exact message is not documented, the comment says so and the text is a paraphrase.

A model the table does not know but :attr:`Scenario.models` lists is one the fake is told it serves without
knowing its capabilities (a fine-tune, a test double): it passes the per-model rules, not the request-shape
ones. Listing a known model there changes nothing: its rules still apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Final

from tiered.cascade.betas import unsupported_beta
from tiered.cascade.capabilities import Capabilities, capabilities, is_retired
from tiered.fake_upstream.scenario import Scenario

__all__ = ["INTERLEAVED_THINKING_BETA", "check_model", "model_not_found", "serves"]

_DOCS: Final = "https://platform.claude.com/docs/en"

# With interleaved thinking the budget may exceed max_tokens (it spans the whole assistant turn):
# https://platform.claude.com/docs/en/build-with-claude/extended-thinking#interleaved-thinking
INTERLEAVED_THINKING_BETA: Final = "interleaved-thinking-2025-05-14"

# The default a "non-default value" is measured against: temperature and top_p default to 1.0 (API reference,
# https://platform.claude.com/docs/en/api/messages/create). top_k has no documented default, so any top_k
# counts as set.
_SAMPLING_DEFAULTS: Final = {"temperature": 1.0, "top_p": 1.0}


def model_not_found(model: str) -> str:
    """The 404 message of the real API for a model it does not serve (``not_found_error``, "model: <id>"):
    https://platform.claude.com/docs/en/api/errors; retired models answer the same way:
    https://platform.claude.com/docs/en/about-claude/model-deprecations ("requests to retired models will
    fail")."""
    return f"model: {model}"


def _prefill(body: dict[str, Any], caps: Capabilities) -> str | None:
    # Prefill returns 400 on Claude 4.6 models and later (Opus 4.7 included); Haiku 4.5 still takes it.
    # https://platform.claude.com/docs/en/about-claude/models/migration-guide ("Prefill removal"). The
    # message is the one the API answers, quoted in public bug reports of SDK users (e.g.
    # strands-agents/sdk-python#1694); the docs do not print it.
    messages = body.get("messages")
    if caps.prefill or not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        return "This model does not support assistant message prefill. The conversation must end with a user message."
    return None


def _window(input_tokens: int, max_tokens: int, caps: Capabilities) -> str | None:
    # "Newer Claude models (starting with Claude Sonnet 3.7) return a validation error when prompt and output
    # tokens exceed the context window": https://platform.claude.com/docs/en/build-with-claude/context-windows
    # Both messages are the API's own, as quoted in public issues (anthropics/claude-code#12186 for the first;
    # the second in many clients' error classifiers); the docs do not print them.
    window = caps.context_window
    if input_tokens > window:
        return f"prompt is too long: {input_tokens} tokens > {window} maximum"
    if input_tokens + max_tokens > window:
        return (
            f"input length and `max_tokens` exceed context limit: {input_tokens} + {max_tokens} > {window}, "
            "decrease input length or `max_tokens` and try again"
        )
    return None


def _max_output(max_tokens: int, caps: Capabilities, model: str) -> str | None:
    # max_tokens above the model's output ceiling is a 400; the ceilings are in the models overview:
    # https://platform.claude.com/docs/en/about-claude/models/overview. The message is the API's own as quoted
    # in public issues (e.g. QuantEcon/action-style-guide v0.1.2 release notes).
    if max_tokens > caps.max_output:
        return (
            f"max_tokens: {max_tokens} > {caps.max_output}, which is the maximum allowed number of output tokens "
            f"for {model}"
        )
    return None


def _sampling(body: dict[str, Any], caps: Capabilities) -> str | None:
    if caps.sampling == "none":
        # "Starting with Claude Opus 4.7, setting temperature, top_p, or top_k to any non-default value will
        # return a 400 error": https://platform.claude.com/docs/en/about-claude/models/migration-guide
        # The message for temperature is the API's as quoted in public issues (Comfy-Org/ComfyUI#13923); the
        # same wording is used for top_p and top_k (not documented).
        for name in ("temperature", "top_p", "top_k"):
            value = body.get(name)
            if value is not None and value != _SAMPLING_DEFAULTS.get(name):
                return f"`{name}` is deprecated for this model."
    elif caps.sampling == "one_of" and body.get("temperature") is not None and body.get("top_p") is not None:
        # "Use only temperature OR top_p, not both" (Claude 4.5 and 4.6 models):
        # https://platform.claude.com/docs/en/about-claude/models/migration-guide ; the message is the API's,
        # as quoted in public issues (not printed by the docs).
        return "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    return None


def _forces_tool(body: dict[str, Any]) -> bool:
    choice = body.get("tool_choice")
    return isinstance(choice, dict) and choice.get("type") in ("any", "tool")


def _thinking_mode(thinking: dict[str, Any], caps: Capabilities) -> str | None:
    kind = thinking.get("type")
    if kind == "disabled":
        if caps.thinking_required:
            # Not documented verbatim: a paraphrase (the models overview lists the models that always think).
            return "thinking.type: this model requires thinking; 'disabled' is not supported"
        return None
    if kind not in ("enabled", "adaptive"):
        return "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'"
    if kind not in caps.thinking:
        # Opus 4.7: "thinking: {type: "enabled", budget_tokens: N} ... returns a 400 error"
        # (https://platform.claude.com/docs/en/about-claude/models/migration-guide); adaptive thinking is only
        # on the models https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking lists.
        # The messages are paraphrases: the docs do not print them.
        if kind == "enabled":
            return (
                "thinking.type.enabled is not supported for this model. "
                "Use thinking.type.adaptive and output_config.effort to control thinking."
            )
        return "thinking.type.adaptive is not supported for this model. Use thinking.type.enabled with budget_tokens."
    return None


def _thinking_budget(thinking: dict[str, Any], max_tokens: int, caps: Capabilities, betas: Iterable[str]) -> str | None:
    # "budget_tokens ... must be set to a value less than max_tokens", minimum 1024:
    # https://platform.claude.com/docs/en/build-with-claude/extended-thinking ; interleaved thinking lifts the
    # max_tokens bound. Both messages are the API's as quoted in public issues and client tests.
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return "thinking.enabled.budget_tokens: Field required"
    if budget < caps.min_thinking_budget:
        return f"thinking.enabled.budget_tokens: Input should be greater than or equal to {caps.min_thinking_budget}"
    if budget >= max_tokens and INTERLEAVED_THINKING_BETA not in betas:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _thinking(body: dict[str, Any], max_tokens: int, caps: Capabilities, betas: Iterable[str]) -> str | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        return "thinking: Input should be an object"
    problem = _thinking_mode(thinking, caps)
    if problem or thinking.get("type") == "disabled":
        return problem
    if thinking.get("type") == "enabled":
        problem = _thinking_budget(thinking, max_tokens, caps, betas)
        if problem:
            return problem
        # "Tool choice ... any or tool ... not supported with extended thinking": extended-thinking docs,
        # https://platform.claude.com/docs/en/build-with-claude/extended-thinking#extended-thinking-with-tool-use
        # (the message is the API's, as quoted in public issues).
        if _forces_tool(body):
            return "Thinking may not be enabled when tool_choice forces tool use."
    # "Thinking isn't compatible with temperature or top_k modifications ... When thinking is enabled, you can
    # set top_p to values between 1 and 0.95. You cannot pre-fill responses when thinking is enabled."
    # https://platform.claude.com/docs/en/build-with-claude/extended-thinking#feature-compatibility
    # The temperature message is the API's as quoted in public issues; the others are paraphrases.
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and temperature != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if body.get("top_k") is not None:
        return "`top_k` is not supported when thinking is enabled."
    if isinstance(top_p, int | float) and not isinstance(top_p, bool) and not 0.95 <= top_p <= 1:
        return "`top_p` must be between 0.95 and 1 when thinking is enabled."
    messages = body.get("messages") or []
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        return "Prefilling the assistant response is not supported when thinking is enabled."
    return None


def _forced_tool(body: dict[str, Any], caps: Capabilities) -> str | None:
    # Some models refuse a forced tool (tool_choice "any" or "tool"); the table cites each model's page
    # (caps.sources["forced_tool_choice"]). The message is a paraphrase: the docs do not print it.
    if not caps.forced_tool_choice and _forces_tool(body):
        return "tool_choice: forcing tool use ('any' or 'tool') is not supported on this model; use 'auto'."
    return None


def _effort(body: dict[str, Any], caps: Capabilities) -> str | None:
    # effort is accepted only by the models https://platform.claude.com/docs/en/build-with-claude/effort lists
    # (not Haiku 4.5). The message is a paraphrase: the docs do not print it.
    config = body.get("output_config")
    if not isinstance(config, dict) or config.get("effort") is None:
        return None
    if not caps.effort:
        return "output_config.effort: effort is not supported on this model."
    if config["effort"] not in ("low", "medium", "high", "xhigh", "max"):
        return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
    return None


def _structured(body: dict[str, Any], caps: Capabilities) -> str | None:
    # Structured outputs are available on the models https://platform.claude.com/docs/en/build-with-claude/
    # structured-outputs lists. The message is a paraphrase: the docs do not print it.
    config = body.get("output_config")
    has_format = (isinstance(config, dict) and config.get("format") is not None) or body.get("output_format")
    if has_format and not caps.structured_outputs:
        return "output_config.format: structured outputs are not supported on this model."
    return None


def _beta(betas: Iterable[str], model: str) -> str | None:
    # A beta only some models take (their list: tiered.cascade.betas, from each feature's page), sent with another:
    # "If you use an invalid or unavailable beta header, you'll receive an error response", with this message
    # (https://platform.claude.com/docs/en/api/beta-headers). That the per-model case answers the same way as an
    # unknown name is our reading of "unavailable": the page shows no other message.
    beta = unsupported_beta(betas, model)
    return None if beta is None else f"Unsupported beta header: {beta}"


def serves(model: str, scenario: Scenario, today: date) -> bool:
    """Does the fake serve ``model`` (an id or an alias) today? A model of the table that is not retired (and,
    when ``scenario.available`` limits the key's models, one of them), or a model the scenario declares."""
    caps = capabilities(model)
    if not caps.known:
        return model in scenario.models
    if is_retired(model, today):
        return False
    # a key (workspace) without access to a model gets the same 404 as for an unknown one; not documented
    # verbatim, the behaviour of the Models API listing only the models a key can use
    return scenario.available is None or caps.model in scenario.available or model in scenario.available


def check_model(
    body: dict[str, Any], input_tokens: int, *, scenario: Scenario, today: date, betas: Iterable[str]
) -> tuple[int, str] | None:
    """The (status, message) the real API answers a validated Messages body with because of its model, or
    ``None`` when the model takes it. ``input_tokens`` is the fake's own count of the prompt; a model the
    scenario declares (unknown to the table) is served without per-model rules."""
    model: str = body["model"]
    if not serves(model, scenario, today):
        return 404, model_not_found(model)
    caps = capabilities(model)
    if not caps.known:
        return None
    max_tokens: int = body.get("max_tokens") or 0
    problem = (
        _beta(betas, model)
        or _max_output(max_tokens, caps, model)
        or _window(input_tokens, max_tokens, caps)
        or _prefill(body, caps)
        or _sampling(body, caps)
        or _thinking(body, max_tokens, caps, betas)
        or _forced_tool(body, caps)
        or _effort(body, caps)
        or _structured(body, caps)
    )
    return (400, problem) if problem else None
