"""Turn a request and its resolved script into a reply, independent of the wire dialect.

Defaults are deterministic: a hash of the seed, the model and the conversation seeds every draw, so the same
prompt always gets the same reply. Content faults (bad triage JSON, truncation, refusal) are applied here;
transport faults (HTTP errors, timeouts, dropped connections) are left to the dialects.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, Final, Literal

from tiered.cascade.triage import TRIAGE_TOOL_NAME
from tiered.fake_upstream.known_answers import known_answer
from tiered.fake_upstream.prompt import Prompt
from tiered.fake_upstream.resolve import Resolution
from tiered.fake_upstream.scenario import Scenario, UsageOverride
from tiered.fake_upstream.schema_values import schema_value
from tiered.fake_upstream.words import tokenize, words

__all__ = ["Reply", "StopReason", "build_reply"]

StopReason = Literal["end_turn", "max_tokens", "tool_use", "refusal", "stop_sequence"]

_REFUSAL_TEXT: Final = "I can't help with that request."


def _dumps(value: Any) -> str:
    """JSON as a model writes it: unicode kept as is, one space after separators."""
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: a single content block streamed as ``tokens``.

    For a ``tool_use`` block, ``tokens`` are the pieces of the input JSON and ``tool_input`` the parsed
    input (``{}`` when a cut left the JSON unreadable).
    """

    block: Literal["text", "tool_use"]
    tokens: tuple[str, ...]
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int  # 5-minute and 1-hour writes together
    ttft_s: float
    tokens_per_s: float
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    confidence: float | None = None  # what a triage reported, for the request log
    stop_sequence: str | None = None  # which of the request's stop_sequences ended the text
    cache_creation_1h_input_tokens: int = 0  # the 1-hour share of cache_creation_input_tokens
    web_search_requests: int = 0  # scripted server-tool use (usage.server_tool_use)

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def _rng(scenario: Scenario, prompt: Prompt) -> random.Random:
    digest = hashlib.sha256(f"{scenario.seed}\0{prompt.model}\0{prompt.conversation}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _scripted_value(answer: str | None, schema: dict[str, Any], rng: random.Random) -> Any:
    """A scripted answer is taken as JSON when it parses, else as a string; unscripted, one is generated."""
    if answer is not None:
        try:
            return json.loads(answer)
        except json.JSONDecodeError:
            return answer
    return schema_value(schema, rng)


def _triage_payload(prompt: Prompt, res: Resolution, rng: random.Random, scenario: Scenario) -> Any:
    """The triage object ``{"confidence", "answer"}`` (or, for ``not_json``, the prose that replaces it)."""
    behaviour = res.behaviour
    drawn_confident = rng.random() < scenario.confident_share
    draw = rng.random()
    drawn = round(0.82 + draw * 0.17, 2) if drawn_confident else round(0.05 + draw * 0.55, 2)
    confidence = behaviour.confidence if behaviour.confidence is not None else drawn
    length = behaviour.tokens if behaviour.tokens is not None else rng.randint(*scenario.answer_tokens)
    answer: Any
    answers = drawn_confident if behaviour.confidence is None else confidence >= 0.5
    if behaviour.null_answer or (behaviour.answer is None and not answers):
        answer = None
    elif prompt.answer_schema is not None:
        answer = _scripted_value(behaviour.answer, prompt.answer_schema, rng)
    else:
        answer = behaviour.answer if behaviour.answer is not None else _default_text(prompt, res, rng, length)
    kind = res.fault.kind if res.fault is not None else None
    if kind == "not_json":
        shown = answer if isinstance(answer, str) else "I am not sure."
        return f"Sure! {shown} (I am about {round(confidence * 100)}% confident.)"
    payload: dict[str, Any] = {"confidence": confidence, "answer": answer}
    if kind == "missing_confidence":
        del payload["confidence"]
    elif kind == "missing_answer":
        del payload["answer"]
    elif kind == "confidence_out_of_range":
        payload["confidence"] = 1.5
    elif kind == "confidence_not_number":
        payload["confidence"] = "high"
    return payload


def _plain_text(prompt: Prompt, res: Resolution, rng: random.Random, scenario: Scenario) -> str:
    behaviour = res.behaviour
    rng.random()  # keep the draw sequence aligned with triage replies
    rng.random()
    length = behaviour.tokens if behaviour.tokens is not None else rng.randint(*scenario.answer_tokens)
    if behaviour.null_answer:
        return ""
    if prompt.output_schema is not None:
        if behaviour.answer is not None:
            return behaviour.answer
        return _dumps(schema_value(prompt.output_schema, rng))
    return behaviour.answer if behaviour.answer is not None else _default_text(prompt, res, rng, length)


def _default_text(prompt: Prompt, res: Resolution, rng: random.Random, length: int) -> str:
    """Filler words, or a real answer to a known question when no directive sets the length."""
    known = known_answer(prompt.last_user_text) if res.behaviour.tokens is None else None
    return known if known is not None else words(rng, length)


def _stop_at(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """``text`` up to the first of ``stops`` it contains (the one complete earliest), and which it was. The
    Messages API stops generating there and reports it ("If the model encounters one of the custom sequences,
    the response stop_reason value will be "stop_sequence" and the response stop_sequence value will contain
    the matched stop sequence": anthropic-sdk-python, types/message_create_params.py). Any text reply is cut,
    a triage's JSON too: that is what structured output with stop sequences produces."""
    found = [(text.find(stop) + len(stop), text.find(stop), stop) for stop in stops if stop and stop in text]
    if not found:
        return text, None
    _, start, stop = min(found)
    return text[:start], stop


def build_reply(prompt: Prompt, res: Resolution, scenario: Scenario) -> Reply:
    """The reply to ``prompt`` under ``res``, with ``max_tokens`` honoured."""
    kind = res.fault.kind if res.fault is not None else None
    text, block, stop, tool_name, confidence = _content(prompt, res, _rng(scenario, prompt), scenario)
    if kind == "refusal":
        text, block, stop, tool_name = _REFUSAL_TEXT, "text", "refusal", None
    matched: str | None = None
    if block == "text" and stop == "end_turn":
        text, matched = _stop_at(text, prompt.stop_sequences)
        stop = "stop_sequence" if matched is not None else stop
    tokens = tokenize(text)
    if kind == "truncated" and len(tokens) > 1:
        tokens, stop = tokens[: len(tokens) // 2], "max_tokens"
    if prompt.max_tokens is not None and len(tokens) > prompt.max_tokens:
        tokens, stop = tokens[: prompt.max_tokens], "max_tokens"
    matched = matched if stop == "stop_sequence" else None
    tool_input: dict[str, Any] | None = None
    if block == "tool_use":
        try:
            parsed = json.loads("".join(tokens))
        except json.JSONDecodeError:
            parsed = {}
        tool_input = parsed if isinstance(parsed, dict) else {}
    usage = res.behaviour.usage
    behaviour = res.behaviour

    def pick(override: int | None, default: int) -> int:
        return override if override is not None else default

    write_5m, write_1h = _cache_writes(prompt, usage)

    return Reply(
        block=block,
        tokens=tuple(tokens),
        stop_reason=stop,
        input_tokens=pick(usage.input_tokens if usage else None, prompt.input_tokens),
        output_tokens=pick(usage.output_tokens if usage else None, max(1, len(tokens))),
        cache_read_input_tokens=pick(usage.cache_read_input_tokens if usage else None, prompt.cache_read_input_tokens),
        cache_creation_input_tokens=write_5m + write_1h,
        cache_creation_1h_input_tokens=write_1h,
        web_search_requests=(usage.web_search_requests or 0) if usage else 0,
        ttft_s=(behaviour.ttft_ms or 0.0) / 1000.0,
        tokens_per_s=behaviour.tokens_per_s or 0.0,
        tool_name=tool_name,
        tool_input=tool_input,
        confidence=confidence,
        stop_sequence=matched,
    )


def _content(
    prompt: Prompt, res: Resolution, rng: random.Random, scenario: Scenario
) -> tuple[str, Literal["text", "tool_use"], StopReason, str | None, float | None]:
    """The reply's whole text before any cut: its block kind, stop reason, tool name and reported confidence."""
    if prompt.triage is not None:
        payload = _triage_payload(prompt, res, rng, scenario)
        confidence: float | None = None
        if isinstance(payload, dict):
            reported = payload.get("confidence")
            confidence = float(reported) if isinstance(reported, int | float) else None
        text = payload if isinstance(payload, str) else _dumps(payload)
        if prompt.triage == "tool" and not isinstance(payload, str):
            return text, "tool_use", "tool_use", TRIAGE_TOOL_NAME, confidence
        return text, "text", "end_turn", None, confidence
    if prompt.forced_tool is not None:
        value = _scripted_value(res.behaviour.answer, prompt.forced_tool.schema, rng)
        text = _dumps(value if isinstance(value, dict) else {"value": value})
        return text, "tool_use", "tool_use", prompt.forced_tool.name, None
    return _plain_text(prompt, res, rng, scenario), "text", "end_turn", None, None


def _cache_writes(prompt: Prompt, usage: UsageOverride | None) -> tuple[int, int]:
    """Tokens written to the cache for 5 minutes and for 1 hour. Scripted usage wins over the prompt cache (see
    UsageOverride): one write override replaces both figures."""
    if usage is None or (usage.cache_creation_input_tokens, usage.cache_creation_1h_input_tokens) == (None, None):
        return prompt.cache_write_5m_input_tokens, prompt.cache_write_1h_input_tokens
    return usage.cache_creation_input_tokens or 0, usage.cache_creation_1h_input_tokens or 0
