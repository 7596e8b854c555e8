"""The expected-cost rule replayed on the decision log: which logged requests it would not have triaged, and
what that would have changed (``tiered backtest --from-log --replay-rule``).

Pure: the caller reads the log (:func:`tiered.store.economics_log.read_turns`) and gives its triaged turns of a
two-tier route oldest first. Each turn is priced as the advisor prices a request (:func:`.expected_cost.choose`)
from what the log shows of it:

* the prompt: the triage call's input tokens less the triage instruction; its cacheable part, what that call
  read or wrote to the cache (less the instruction when more was cached);
* the cheap tier's warm prefix: what the triage call read from its cache;
* the final tier's warm prefix: what the final call read, for an escalated turn; for a shipped turn the log
  cannot tell, and 0 is assumed (a cold final tier: the rule then errs towards triaging, as it would live);
* the ship rate and the answer length: learned from the turns before it, in order, as the advisor learns them
  (by prompt size and depth; whether the conversation escalated before is not in the log: taken as no).

A turn the rule would have sent straight to the final tier costs, instead of its actual cost, its final call's
for an escalated turn (exact: the triage is saved) or its counterfactual for a shipped one (an estimate: the
saving the triage made is lost). The one-in-twenty exploration of the live rule is not replayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..accounting import INSTRUCTION_TOKENS, WRAPPER_TOKENS
from ..decision import TokenUsage
from ..pricing import PriceBook
from .answer_lengths import AnswerLengths
from .expected_cost import Prompt, TierView, choose
from .ship_rates import ShipRates, Similar, depth_bucket, size_bucket

__all__ = ["LoggedTurn", "Replay", "ReplayedTurn", "replay"]


@dataclass(frozen=True, slots=True)
class LoggedTurn:
    """One logged decision of a two-tier route whose first tier triaged it."""

    id: str
    depth: int
    cheap_model: str
    final_model: str
    triage: TokenUsage
    shipped: bool
    final: TokenUsage | None  # the final call's usage, for an escalated turn
    cost_usd: float  # what the turn cost
    final_cost_usd: float | None  # the final call's cost (escalated), else the counterfactual (shipped)


@dataclass(frozen=True, slots=True)
class ReplayedTurn:
    id: str
    shipped: bool
    skipped: bool  # the rule would have answered it on the final tier directly
    difference_usd: float  # the rule's cost less the actual cost (0 when it would have triaged too)
    detail: str


@dataclass(frozen=True, slots=True)
class Replay:
    turns: tuple[ReplayedTurn, ...]
    unpriced: int  # turns left out: a model without a flat price, or a cost unknown

    @property
    def skipped(self) -> tuple[ReplayedTurn, ...]:
        return tuple(t for t in self.turns if t.skipped)

    @property
    def difference_usd(self) -> float:
        return sum(t.difference_usd for t in self.turns)


def _prompt(turn: LoggedTurn, output: int) -> Prompt:
    usage = turn.triage
    cached = usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    tokens = max(usage.total_input_tokens - INSTRUCTION_TOKENS, 1)
    cacheable = cached - INSTRUCTION_TOKENS if cached > INSTRUCTION_TOKENS else cached
    return Prompt(
        tokens=tokens,
        cacheable=min(cacheable, tokens),
        output=output,
        write_1h=usage.cache_creation_1h_input_tokens > 0,
        triage_input=INSTRUCTION_TOKENS,
        triage_wrapper=WRAPPER_TOKENS,
    )


def replay(turns: Iterable[LoggedTurn], prices: PriceBook) -> Replay:
    """Replay the rule over ``turns`` (oldest first); see the module docstring."""
    rates, lengths = ShipRates(), AnswerLengths()
    out: list[ReplayedTurn] = []
    unpriced = 0
    for turn in turns:
        cheap, final = prices.rates(turn.cheap_model), prices.rates(turn.final_model)
        size = size_bucket(max(turn.triage.total_input_tokens - INSTRUCTION_TOKENS, 1))
        similar = Similar(size, depth_bucket(turn.depth), False)
        if cheap is None or final is None or turn.final_cost_usd is None:
            unpriced += 1
        else:
            rate, samples = rates.rate("log", 0, similar)
            final_warm = turn.final.cache_read_input_tokens if turn.final is not None else 0
            views = [
                TierView(turn.cheap_model, cheap, turn.triage.cache_read_input_tokens, rate, samples),
                TierView(turn.final_model, final, final_warm),
            ]
            choice = choose(views, _prompt(turn, lengths.typical("log", size)))
            skipped = choice.tier == 1
            difference = turn.final_cost_usd - turn.cost_usd if skipped else 0.0
            out.append(ReplayedTurn(turn.id, turn.shipped, skipped, difference, choice.detail))
        rates.observe("log", 0, similar, turn.shipped)
        answer = turn.triage.output_tokens - WRAPPER_TOKENS if turn.shipped else None
        if turn.final is not None:
            answer = turn.final.output_tokens
        if answer is not None:
            lengths.observe("log", size, answer)
    return Replay(tuple(out), unpriced)
