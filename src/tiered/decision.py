"""The decision record: what tiered did for one request, and what it cost.

Every request yields exactly one frozen :class:`Decision`. It lists each :class:`Attempt` (one upstream call),
the answering tier, the escalation reason, the actual cost and the counterfactual cost of sending the request
to the route's final tier alone.

Costs are US dollars as ``float`` (ample for cents on any realistic volume). A cost of ``None`` means
*unknown* (the model has no price in genai-prices): it is never reported as zero.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "Attempt",
    "AttemptRole",
    "Decision",
    "EscalationReason",
    "Outcome",
    "TokenUsage",
]


class AttemptRole(StrEnum):
    """Why a tier was called."""

    TRIAGE = "triage"  # asked to answer with a confidence
    FINAL = "final"  # the caller's request replayed unchanged (but for ``model``) to answer directly
    PASSTHROUGH = "passthrough"  # not routed: the caller named a plain model


class EscalationReason(StrEnum):
    """Why a triage answer was not shipped."""

    LOW_CONFIDENCE = "low_confidence"
    NO_ANSWER = "no_answer"
    INVALID_OUTPUT = "invalid_output"
    TRUNCATED = "truncated"
    REFUSAL = "refusal"
    UPSTREAM_ERROR = "upstream_error"
    CHEAP_TIER_REJECTED = "cheap_tier_rejected"  # the triage call got a 4xx: this request, not the upstream's health
    POLICY = "policy"
    CAPABILITY = "capability"  # a tier's model cannot take the request as it is (see tiered.cascade.fit)
    NOT_WORTH_TRIAGE = "not_worth_triage"  # the triage would cost more than it saves, in expectation (tiered.economics)


class Outcome(StrEnum):
    """How one attempt's output was read."""

    SHIPPED = "shipped"  # triage answer cleared the threshold and was returned
    ESCALATED = "escalated"  # triage answer read, but not shipped (see the reason)
    INVALID = "invalid"  # triage output unreadable: not JSON, missing keys, bad confidence
    ANSWERED = "answered"  # a final / passthrough call returned its answer
    ERROR = "error"  # the call failed (see ``error``)
    SKIPPED = "skipped"  # not called: the tier's circuit is open (see tiered.health)
    CANCELLED = "cancelled"  # the call was abandoned (client gone, or a hedge lost)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What one call used, in the Anthropic convention: ``input_tokens`` excludes cache reads and writes.

    ``cache_creation_input_tokens`` counts every cache write; ``cache_creation_1h_input_tokens`` is the part
    written with the 1-hour TTL (``usage.cache_creation.ephemeral_1h_input_tokens``), billed at 2x the input
    rate where a 5-minute write is billed at 1.25x. The server-tool counts are
    ``usage.server_tool_use.web_search_requests`` and ``web_fetch_requests`` (the SDK's ``ServerToolUsage``).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    web_search_requests: int = 0
    web_fetch_requests: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def cache_creation_5m_input_tokens(self) -> int:
        return self.cache_creation_input_tokens - self.cache_creation_1h_input_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(*map(operator.add, _counts(self), _counts(other)))

    @classmethod
    def from_anthropic(cls, usage: Any) -> TokenUsage:
        """Read an Anthropic ``usage`` object (a JSON mapping); missing or null fields count as zero.

        The cache-write total is at least the sum of its TTL breakdown, whichever of the two a (partial) usage
        object carries."""
        if not isinstance(usage, dict):
            return cls()
        # one comprehension, no call per field: this runs for every upstream call, up to twice for a stream
        inp, out, read, writes = [v if type(v) is int and v >= 0 else 0 for v in map(usage.get, _USAGE_KEYS)]
        creation = usage.get("cache_creation")
        one_hour = five_min = searches = fetches = 0
        if isinstance(creation, dict):
            one_hour, five_min = [v if type(v) is int and v >= 0 else 0 for v in map(creation.get, _CREATION_KEYS)]
        tools = usage.get("server_tool_use")
        if isinstance(tools, dict):
            searches, fetches = [v if type(v) is int and v >= 0 else 0 for v in map(tools.get, _TOOL_KEYS)]
        return cls(inp, out, read, max(writes, five_min + one_hour), one_hour, searches, fetches)

    def to_anthropic(self) -> dict[str, Any]:
        """The Anthropic ``usage`` object; the cache and server-tool breakdowns only when there is one."""
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }
        if self.cache_creation_input_tokens:
            out["cache_creation"] = {
                "ephemeral_5m_input_tokens": self.cache_creation_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation_1h_input_tokens,
            }
        if self.web_search_requests or self.web_fetch_requests:
            out["server_tool_use"] = {
                "web_search_requests": self.web_search_requests,
                "web_fetch_requests": self.web_fetch_requests,
            }
        return out


# Counts are non-negative ints (a bool is not one); anything else counts as zero.
_USAGE_KEYS: Final = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_CREATION_KEYS: Final = ("ephemeral_1h_input_tokens", "ephemeral_5m_input_tokens")
_TOOL_KEYS: Final = ("web_search_requests", "web_fetch_requests")

_counts = operator.attrgetter(
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_1h_input_tokens",
    "web_search_requests",
    "web_fetch_requests",
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call made for a request."""

    tier: int
    model: str
    role: AttemptRole
    outcome: Outcome
    confidence: float | None = None
    reason: EscalationReason | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float | None = None
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    stop_reason: str | None = None
    status: int | None = None
    error: str | None = None
    request_id: str | None = None
    rewrites: tuple[str, ...] = ()
    stream_aborted: bool = False
    # The upstream's ``usage`` object as it came (every field, known to tiered or not); ``None`` when the call
    # reported none (it failed, or was cancelled before its first event).
    reported_usage: dict[str, Any] | None = None
    # ``usage`` (and so ``cost_usd``) is tiered's estimate, not the upstream's final count: the stream ended
    # before its final usage (client gone, upstream failure, a triage tiered cut short, a hedge that lost).
    usage_estimated: bool = False
    # For a judged triage: ``confidence`` is the model's own (raw) figure, ``score`` the calibrated one it was
    # compared with (the raw one when the tier has no calibration map), ``threshold`` the threshold in force.
    score: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What tiered did for one request. ``answered_by`` is ``None`` only when every tier failed."""

    id: str
    route: str
    created_at: datetime
    attempts: tuple[Attempt, ...]
    answered_by: str | None
    answer_tier: int | None
    escalated: bool
    reason: EscalationReason | None
    confidence: float | None
    threshold: float | None
    cost_usd: float | None
    counterfactual_cost_usd: float | None
    latency_ms: float
    stream: bool = False
    passthrough: bool = False
    degraded: bool = False  # the final tier failed and a cheaper tier's answer shipped (degrade_to_cheap)
    error: str | None = None
    error_status: int | None = None
    key_id: str | None = None
    replica: str | None = None  # the proxy process that served it
    request_hash: str | None = None
    request_chars: int = 0
    answer_chars: int = 0
    reason_detail: str | None = None  # for reason ``capability``: the feature and the model, in words
    # ``confidence`` (raw), ``score`` (calibrated) and ``threshold`` are those of the deciding triage: the one
    # whose answer shipped, or for an escalated request the last one judged with a confidence (so "0.78 < 0.90"
    # can be shown whatever the threshold is now); ``None`` when no triage was judged.
    score: float | None = None
    mode: str = "live"  # the route's mode: ``shadow`` answers everything with the final tier (#19)
    slice: str | None = None  # the request's slice within its route (``RouteSettings.slice_from``), if any
    # What the cascade's cold final-tier cache cost over the all-final path (``tiered.accounting.cache_penalty``):
    # already inside ``cost_usd``, so ``savings_usd`` is net of it; ``None`` when unknown or not priced.
    cache_penalty_usd: float | None = None
    depth: int | None = None  # the conversation's depth: the request's user turns (tiered.economics.fingerprint)

    @property
    def usage(self) -> TokenUsage:
        attempts = self.attempts
        if len(attempts) == 1:
            return attempts[0].usage
        if not attempts:
            return TokenUsage()
        return TokenUsage(*map(sum, zip(*(_counts(a.usage) for a in attempts), strict=True)))

    @property
    def savings_usd(self) -> float | None:
        if self.cost_usd is None or self.counterfactual_cost_usd is None:
            return None
        return self.counterfactual_cost_usd - self.cost_usd

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (enums as strings, datetimes in ISO 8601)."""
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["savings_usd"] = self.savings_usd
        out["usage"] = dataclasses.asdict(self.usage)
        plain: dict[str, Any] = _plain(out)
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
