"""Is a triage worth its cost? The expected cost of each way to answer a request, as pure arithmetic.

A route ``t0 .. tN`` can answer a request by triaging from tier ``k`` (``k < N``) or by sending it straight to
the final tier ``N``. With ``p_k`` the observed ship rate of tier ``k`` for similar requests::

    E[N] = cost of the final call
    E[k] = p_k * triage_k(shipped) + (1 - p_k) * (triage_k(cut short) + E[k + 1])

Each call is priced with its tier's prompt-cache state: the tokens of the longest prefix that tier has cached
for this request are read (0.1x input), the rest of the cacheable prefix (up to the last ``cache_control``
breakpoint) is written (1.25x for 5 minutes, 2x for one hour), the remainder is plain input. A triage carries
the triage instruction as extra input; a shipped triage writes the answer and its JSON wrapper, an escalating
one is cut after its confidence (a few tokens). The output of an answer is estimated as
``min(max_tokens, EXPECTED_OUTPUT_TOKENS)``, the same for every tier.

A triage tier whose cache is cold for this prefix would write it; that write warms its cache for the
conversation's next turns, and charging it all to this turn would keep a conversation that once went straight to
the final tier there for good (its cheap tier never warms). So a triage tier's write premium over a read is
spread over ``horizon`` turns: the caller passes the conversation's turns so far (a conversation that has gone
on for ``n`` turns is expected to go on for about as many more), at most 8.

The choice is the option of least expected cost, triaging from the first tier on a tie; nothing here does I/O
or reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..pricing import ModelRates

__all__ = ["EXPECTED_OUTPUT_TOKENS", "Choice", "Prompt", "TierView", "call_cost", "choose"]

EXPECTED_OUTPUT_TOKENS: Final = 300
CUT_OUTPUT_TOKENS: Final = 16  # a triage cut after its confidence: '{"confidence": 0.4' and the stream's end


@dataclass(slots=True)  # not frozen: built for every routed request, and frozen fields cost more
class Prompt:
    """The request, in tokens (estimated locally)."""

    tokens: int  # the whole prompt
    cacheable: int  # up to the last cache breakpoint (0 without any)
    output: int  # the answer's expected length
    write_1h: bool = False  # the last breakpoint asks for the one-hour TTL
    triage_input: int = 0  # the triage instruction
    triage_wrapper: int = 0  # the triage answer's JSON wrapper
    horizon: int = 1  # turns a triage tier's cache write is amortized over (1: all of it on this turn)


@dataclass(slots=True)  # not frozen: built for every routed request, and frozen fields cost more
class TierView:
    """One tier as this request sees it: its model's rates, its warm cached prefix and (for a triage tier) its
    ship rate for similar requests."""

    model: str
    rates: ModelRates
    warm: int
    ship_rate: float = 0.0
    samples: int = 0  # triages the ship rate was observed on


@dataclass(frozen=True, slots=True)
class Choice:
    """The cheapest option in expectation: triage from ``tier``, or (``tier`` is the final one) answer there
    directly; ``costs[k]`` is ``E[k]`` in USD, ``saving`` what the choice saves against triaging from tier 0,
    ``detail`` the numbers in words when the choice skips tier 0 (empty otherwise)."""

    tier: int
    costs: tuple[float, ...]
    saving: float
    detail: str

    @property
    def triage(self) -> bool:
        return self.tier < len(self.costs) - 1


def call_cost(
    rates: ModelRates, prompt: Prompt, warm: int, *, extra_input: int = 0, output: int, horizon: int = 1
) -> float:
    """USD of one call: ``warm`` tokens read from the cache, the rest of the cacheable prefix written, the
    remainder (and ``extra_input``) as plain input, ``output`` tokens out. ``horizon`` > 1 books only that
    share of the write's premium over a read on this call (the rest warms the cache for the turns to come)."""
    read = min(warm, prompt.tokens)
    written = max(prompt.cacheable - read, 0)
    plain = max(prompt.tokens - read - written, 0) + extra_input
    write_rate = rates.cache_write_1h_mtok if prompt.write_1h else rates.cache_write_mtok
    if horizon > 1:
        write_rate = rates.cache_read_mtok + (write_rate - rates.cache_read_mtok) / horizon
    return (
        read * rates.cache_read_mtok + written * write_rate + plain * rates.input_mtok + output * rates.output_mtok
    ) / 1_000_000


def _triage_cost(view: TierView, prompt: Prompt, next_cost: float) -> float:
    extra, horizon = prompt.triage_input, prompt.horizon
    shipped = call_cost(
        view.rates, prompt, view.warm, extra_input=extra, output=prompt.output + prompt.triage_wrapper, horizon=horizon
    )
    cut = call_cost(view.rates, prompt, view.warm, extra_input=extra, output=CUT_OUTPUT_TOKENS, horizon=horizon)
    p = min(max(view.ship_rate, 0.0), 1.0)
    return p * shipped + (1 - p) * (cut + next_cost)


def choose(tiers: Sequence[TierView], prompt: Prompt) -> Choice:
    """The option of least expected cost over ``tiers`` (cheapest first, the last one final)."""
    last = len(tiers) - 1
    costs = [0.0] * len(tiers)
    costs[last] = call_cost(tiers[last].rates, prompt, tiers[last].warm, output=prompt.output)
    for k in range(last - 1, -1, -1):
        costs[k] = _triage_cost(tiers[k], prompt, costs[k + 1])
    best = min(range(len(costs)), key=lambda k: (costs[k], k))
    detail = _detail(tiers, prompt, costs, best) if best else ""  # words only for a decision that records them
    return Choice(best, tuple(costs), costs[0] - costs[best], detail)


def _detail(tiers: Sequence[TierView], prompt: Prompt, costs: Sequence[float], best: int) -> str:
    first = tiers[0]
    chosen = tiers[best]
    how = "answered directly by" if best == len(tiers) - 1 else "triage from"
    return (
        f"{how} {chosen.model}: expected ${costs[best]:.6f} (~{chosen.warm} of ~{prompt.tokens} prompt tokens "
        f"cached there) against ${costs[0]:.6f} triaging on {first.model} ({first.warm} cached, ship rate "
        f"{first.ship_rate:.2f} over {first.samples} similar triages)"
    )
