"""What the fake upstream is scripted to do: faults, behaviours, rules and the scenario that holds them.

A :class:`Behaviour` is a partial script (every field optional); layers of them are merged, the later layer
winning field by field: scenario defaults, then the first matching :class:`Rule`, then inline directives.
"""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

__all__ = [
    "FAULT_KINDS",
    "Behaviour",
    "Fault",
    "FaultKind",
    "Rule",
    "Sample",
    "Scenario",
    "UsageOverride",
    "model_matches",
]

FaultKind = Literal[
    "none",  # no fault: lets a rule or directive exempt requests from a scenario-wide fault
    "rate_limit",  # 429 rate_limit_error with retry-after
    "overloaded",  # 529 overloaded_error
    "api_error",  # 500 api_error
    "unavailable",  # 503
    "gateway_timeout",  # 504 timeout_error
    "timeout",  # hang for hang_s, then close the connection without a response
    "drop",  # close the connection mid-stream after after_events events (no response when not streaming)
    "stall",  # stop mid-stream after after_events events, hang for hang_s, then close (timeout when not streaming)
    "malformed",  # 200 with a body (or an SSE event) that is not valid JSON
    "stream_error",  # an `event: error` (overloaded_error) after after_events events; 529 when not streaming
    "not_json",  # triage reply in prose instead of JSON
    "missing_confidence",  # triage JSON without the confidence key
    "missing_answer",  # triage JSON without the answer key
    "confidence_out_of_range",  # triage confidence 1.5
    "confidence_not_number",  # triage confidence "high"
    "truncated",  # output cut halfway with stop_reason max_tokens
    "refusal",  # stop_reason refusal
]

FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))

_FAULT_ALIASES: Final = {
    "429": "rate_limit",
    "529": "overloaded",
    "500": "api_error",
    "503": "unavailable",
    "504": "gateway_timeout",
}


def model_matches(pattern: str, model: str) -> bool:
    """A glob when ``pattern`` has wildcards (``claude-*-4-5``), else a substring test (``haiku``)."""
    if any(c in pattern for c in "*?["):
        return fnmatchcase(model, pattern)
    return pattern in model


class Fault(BaseModel):
    """A scripted failure. ``times`` limits it to the first N calls it applies to; ``probability`` makes it
    fire at random (seeded by the scenario's ``seed``). Both may be combined."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    times: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    after_events: int = Field(default=4, ge=0)
    retry_after: float = Field(default=1.0, ge=0.0)
    hang_s: float = Field(default=30.0, ge=0.0)
    message: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        if isinstance(value, int):
            value = str(value)
        return _FAULT_ALIASES.get(value, value) if isinstance(value, str) else value


class UsageOverride(BaseModel):
    """Token counts to report instead of the estimated ones; unset fields keep the estimate.

    They take precedence over the prompt cache's own figures, field by field: ``cache_read_input_tokens``
    replaces the tokens read; ``cache_creation_input_tokens`` (5-minute writes) and
    ``cache_creation_1h_input_tokens`` (1-hour writes), when either is set, replace both write figures (the
    one not set is 0) and the reported ``cache_creation_input_tokens`` is their sum. The cache itself is
    still read and written as the request's ``cache_control`` markers say.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0)
    cache_creation_1h_input_tokens: int | None = Field(default=None, ge=0)
    # server-tool use to report (usage.server_tool_use): the fake runs no search, it only reports what one cost
    web_search_requests: int | None = Field(default=None, ge=0)

    def over(self, base: UsageOverride | None) -> UsageOverride:
        if base is None:
            return self
        return base.model_copy(update={k: v for k, v in self.model_dump().items() if v is not None})


class Sample(BaseModel):
    """One scripted sample of a request answered several times (see :attr:`Behaviour.samples`); ``answer:
    null`` scripts a null answer, an unset field keeps the behaviour's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    answer: str | None = None
    null_answer: bool = False
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _explicit_null_answer(cls, data: Any) -> Any:
        if isinstance(data, dict) and "answer" in data and data["answer"] is None:
            data = {**{k: v for k, v in data.items() if k != "answer"}, "null_answer": True}
        return data


_BEHAVIOUR_FIELDS: Final = (
    "confidence",
    "answer",
    "null_answer",
    "samples",
    "tokens",
    "ttft_ms",
    "tokens_per_s",
    "usage",
    "fault",
)


class Behaviour(BaseModel):
    """A partial script for one reply. ``answer: null`` in JSON (``null_answer = true`` in TOML) scripts a null
    answer; when neither is set a triage answers only if its confidence is at least 0.5."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    answer: str | None = None
    null_answer: bool = False
    tokens: int | None = Field(default=None, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0.0)
    tokens_per_s: float | None = Field(default=None, ge=0.0)
    usage: UsageOverride | None = None
    fault: Fault | None = None
    samples: tuple[Sample, ...] | None = Field(default=None, min_length=1)
    """Per-sample scripting: the n-th call with the same model and last user message answers
    ``samples[(n + seed) % len(samples)]`` (see :meth:`tiered.fake_upstream.resolve.Runtime.resolve`)."""

    @model_validator(mode="before")
    @classmethod
    def _explicit_null_answer(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("answer", "") is None and "null_answer" not in data:
            data = {k: v for k, v in data.items() if k != "answer"}
            data["null_answer"] = True
        return data

    def script(self) -> dict[str, Any]:
        """The behaviour fields this layer sets: those not ``None`` (``null_answer`` only when true)."""
        values = {k: getattr(self, k) for k in _BEHAVIOUR_FIELDS}
        if not values["null_answer"]:
            del values["null_answer"]
        return {k: v for k, v in values.items() if v is not None}

    def over(self, base: Behaviour) -> Behaviour:
        """``base`` with every field this behaviour sets replaced."""
        update = self.script()
        if "answer" in update and "null_answer" not in update:
            update["null_answer"] = False
        if "null_answer" in update and update["null_answer"] and "answer" not in update:
            update["answer"] = None
        if "usage" in update and update["usage"] is not None:
            update["usage"] = update["usage"].over(base.usage)
        merged = base.model_copy(update=update)
        return merged


class Rule(Behaviour):
    """A behaviour applied when the last user message matches (``contains`` substring and/or ``regex``
    searched) and the model matches ``model`` (a glob or a substring). A rule with no condition always
    matches."""

    contains: str | None = None
    regex: str | None = None
    model: str | None = None
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value

    def model_post_init(self, context: Any, /) -> None:
        if self.regex is not None:
            self._pattern = re.compile(self.regex)

    def matches(self, text: str, model: str) -> bool:
        if self.model is not None and not model_matches(self.model, model):
            return False
        if self.contains is not None and self.contains not in text:
            return False
        return self._pattern is None or self._pattern.search(text) is not None


class Scenario(BaseModel):
    """The whole script of a fake upstream.

    ``rules`` are tried in order and the first match applies. ``ttft_ms``, ``tokens_per_s``, ``usage`` and
    ``fault`` are defaults for every request (zero latency means as fast as possible). ``api_key``, when set,
    is required on every ``/v1`` request. ``models`` are served (and listed by ``GET /v1/models``) besides the
    capability table's: a model the table does not know otherwise answers 404, and one listed here is served
    without per-model rules. ``available``, when set, are the only table models the API key may use (the
    others answer 404 and are not listed, as for a key without access); ``None`` means all of them.
    ``seed`` varies the deterministic default replies and drives fault probabilities.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()
    ttft_ms: float = Field(default=0.0, ge=0.0)
    tokens_per_s: float = Field(default=0.0, ge=0.0)
    usage: UsageOverride | None = None
    fault: Fault | None = None
    api_key: str | None = None
    models: tuple[str, ...] = ()
    available: tuple[str, ...] | None = None
    seed: int = 0
    confident_share: float = Field(default=0.8, ge=0.0, le=1.0)
    answer_tokens: tuple[int, int] = (12, 60)
    batch_delay_s: float = Field(default=0.0, ge=0.0)
    require_anthropic_version: bool = False

    @field_validator("answer_tokens")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if low < 1 or high < low:
            raise ValueError("answer_tokens must be (low, high) with 1 <= low <= high")
        return value

    def defaults(self) -> Behaviour:
        """The scenario-wide defaults as a behaviour layer."""
        data: dict[str, Any] = {"ttft_ms": self.ttft_ms, "tokens_per_s": self.tokens_per_s}
        if self.usage is not None:
            data["usage"] = self.usage
        if self.fault is not None:
            data["fault"] = self.fault
        return Behaviour(**data)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        return cls.model_validate(json.loads(text))

    @classmethod
    def from_toml(cls, text: str) -> Scenario:
        return cls.model_validate(tomllib.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario from a ``.toml`` or ``.json`` file."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            return cls.from_json(text)
        return cls.from_toml(text)
