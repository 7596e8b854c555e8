"""Costs for a decision: what was spent, and what sending the request to the final tier alone would cost.

The counterfactual cost is the price of the route's final tier for the same request:

- escalated all the way: the final call's own cost (its real usage);
- shipped by a triage tier, or answered directly by the first tier: an *estimate*. It prices the answering
  call's token counts at the final tier's rates, less what the triage contract added: the triage
  instruction on the input side (``INSTRUCTION_TOKENS``, estimated at four characters a token) and the JSON
  wrapper ``{"confidence": ..., "answer": "..."}`` on the output side (``WRAPPER_TOKENS``). It assumes the final
  tier would have written an answer as long as the cheap one, and counts tokens with the cheap model's
  tokenizer (newer models may count up to a third more for the same text, so the estimate errs low, against
  tiered's claimed savings);
- a request that failed on every tier has no counterfactual (``None``).

Both are cache-correct when the caller passes ``final_warm`` (see :mod:`tiered.economics.counterfactual`): the
part of the prefix the final tier would have had cached, had it answered every turn, is priced as a cache read,
and :func:`cache_penalty` is what the cascade's cold final-tier cache cost on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from .cascade.triage import TRIAGE_INSTRUCTION
from .decision import Attempt, AttemptRole, Outcome, TokenUsage
from .economics.counterfactual import with_final_cache
from .pricing import PriceBook

__all__ = [
    "CHARS_PER_TOKEN",
    "INSTRUCTION_TOKENS",
    "WRAPPER_TOKENS",
    "cache_penalty",
    "counterfactual_cost",
    "tokens_for_chars",
    "total_cost",
    "without_triage_overhead",
]

INSTRUCTION_TOKENS: Final = math.ceil(len(TRIAGE_INSTRUCTION) / 4)
WRAPPER_TOKENS: Final = 12
# Characters per token for an estimate of output tokens from text seen (a stream that ended before its final
# usage). Anthropic's glossary puts a Claude token at about 3.5 English characters
# (https://platform.claude.com/docs/en/about-claude/glossary, "Tokens"; not found in the docs search corpus,
# so not re-checked). Fewer characters per token than the 4 above: the estimate errs towards the higher cost.
CHARS_PER_TOKEN: Final = 3.5


def tokens_for_chars(chars: int) -> int:
    """Estimated tokens of ``chars`` characters of model output (see ``CHARS_PER_TOKEN``)."""
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def total_cost(attempts: Sequence[Attempt]) -> float | None:
    """The sum of the attempts' costs; ``None`` if any of them has no known price."""
    total = 0.0
    for attempt in attempts:
        if attempt.cost_usd is None:
            if attempt.usage == TokenUsage():
                continue  # a call that failed before using any tokens costs nothing, known or not
            return None
        total += attempt.cost_usd
    return total


def without_triage_overhead(usage: TokenUsage) -> TokenUsage:
    """A triage call's usage less what the triage contract added: its instruction on the input side and the
    JSON wrapper on the output side; server tools stay. The instruction is the system prompt's last block, so
    when a cache breakpoint lies after it (one in the messages) it was cached with the prefix: what plain input
    does not cover comes off the cache writes, then the reads (the 5-minute writes first)."""
    rest = max(INSTRUCTION_TOKENS - usage.input_tokens, 0)
    written = min(rest, usage.cache_creation_input_tokens)
    read = min(rest - written, usage.cache_read_input_tokens)
    creation = usage.cache_creation_input_tokens - written
    return TokenUsage(  # built directly: dataclasses.replace costs several times as much
        max(usage.input_tokens - INSTRUCTION_TOKENS, 0),
        max(usage.output_tokens - WRAPPER_TOKENS, 1),
        usage.cache_read_input_tokens - read,
        creation,
        min(usage.cache_creation_1h_input_tokens, creation),
        usage.web_search_requests,
        usage.web_fetch_requests,
    )


def counterfactual_cost(
    answering: Attempt | None, final_model: str, prices: PriceBook, *, final_warm: int = 0
) -> float | None:
    """See the module docstring; ``answering`` is the attempt whose answer reached the caller. ``final_warm``:
    the tokens of this request's prefix the final tier would have had cached had it answered every turn (see
    :mod:`tiered.economics.counterfactual`); that many cached tokens are priced as reads, not writes."""
    if answering is None:
        return None
    if answering.model == final_model and answering.role is not AttemptRole.TRIAGE:
        if final_warm <= 0:
            return answering.cost_usd
        return prices.cost(final_model, with_final_cache(answering.usage, final_warm), answering.reported_usage)
    usage = answering.usage
    if answering.role is AttemptRole.TRIAGE and answering.outcome is Outcome.SHIPPED:
        usage = without_triage_overhead(usage)
    return prices.cost(final_model, with_final_cache(usage, final_warm), answering.reported_usage)


def cache_penalty(answering: Attempt | None, final_model: str, prices: PriceBook, *, final_warm: int) -> float | None:
    """What the answering final call paid for cache writes the all-final path would have read instead (the
    cascade's own cache-miss penalty); 0 for an answer from another tier, ``None`` when unknown."""
    if answering is None or answering.model != final_model or answering.role is AttemptRole.TRIAGE:
        return 0.0 if answering is not None else None
    if answering.cost_usd is None:
        return None
    if final_warm <= 0:  # nothing warm: the fair price is the one the call was priced at (no second pricing)
        return 0.0
    fair = prices.cost(final_model, with_final_cache(answering.usage, final_warm), answering.reported_usage)
    return None if fair is None else max(answering.cost_usd - fair, 0.0)
