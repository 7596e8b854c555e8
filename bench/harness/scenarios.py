"""The requests the benchmark sends, scripted for the fake upstream with inline ``[[fake ...]]`` directives.

Every behaviour (confidence, answer length, latency) is in the prompt, so one fake process serves every
phase and a direct call with the same body gets exactly the reply the proxy's upstream call gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "API_HEADERS",
    "CHEAP",
    "FINAL",
    "LATENCY",
    "Latency",
    "Scenario",
    "Shape",
    "body",
    "overhead_scenarios",
    "realistic_escalated",
    "realistic_shipped",
]

CHEAP: Final = "claude-haiku-4-5"
FINAL: Final = "claude-opus-4-7"
API_HEADERS: Final = {"x-api-key": "bench-key", "anthropic-version": "2023-06-01"}

Shape = Literal["shipped", "passthrough", "escalated"]

_QUESTION: Final = "In two sentences, what does a model cascade save?"


@dataclass(frozen=True, slots=True)
class Latency:
    """The realistic latency model: time to first token and decode speed of every fake model."""

    ttft_ms: int = 300
    tokens_per_s: int = 80

    def directive(self) -> str:
        return f"ttft={self.ttft_ms} tps={self.tokens_per_s}"

    def tokens_ms(self, tokens: int) -> float:
        return tokens * 1000 / self.tokens_per_s


LATENCY: Final = Latency()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A request shape: the model the client asks for and the fake's script for it."""

    name: str
    shape: Shape
    model: str
    directive: str
    upstream_calls: int  # calls the proxy should make upstream

    def text(self) -> str:
        return f"{_QUESTION} [[fake {self.directive}]]"


def overhead_scenarios(answer_tokens: int = 40) -> dict[Shape, Scenario]:
    """Zero-latency scenarios for the proxy's own overhead."""
    return {
        "shipped": Scenario("shipped", "shipped", "tiered", f"confidence=0.95 tokens={answer_tokens}", 1),
        "passthrough": Scenario("passthrough", "passthrough", CHEAP, f"tokens={answer_tokens}", 1),
        "escalated": Scenario(
            "escalated", "escalated", "tiered", f"haiku:confidence=0.3 opus:tokens={answer_tokens}", 2
        ),
    }


def realistic_shipped(answer_tokens: int = 60) -> Scenario:
    """A confident triage answering at the realistic speed (time to first token of shipped answers)."""
    return Scenario(
        "ttft-shipped", "shipped", "tiered", f"confidence=0.95 tokens={answer_tokens} {LATENCY.directive()}", 1
    )


def realistic_escalated(triage_tokens: int = 200, answer_tokens: int = 60) -> Scenario:
    """A triage that reports a low confidence first and then keeps writing a long answer (which a naive
    cascade waits for and tiered cuts off), then a final answer at the same speed."""
    return Scenario(
        "escalation",
        "escalated",
        "tiered",
        f"{LATENCY.directive()} haiku:confidence=0.6 haiku:tokens={triage_tokens} opus:tokens={answer_tokens}",
        2,
    )


def body(scenario: Scenario, *, stream: bool, model: str | None = None) -> dict[str, Any]:
    """The Messages request a client sends for ``scenario`` (``model`` overrides the scenario's)."""
    out: dict[str, Any] = {
        "model": model or scenario.model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": scenario.text()}],
    }
    if stream:
        out["stream"] = True
    return out
