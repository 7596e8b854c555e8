"""Cache-correct counterfactual: the all-final-tier path priced with the cache it would have had. Pure.

Had the final tier answered every turn of a conversation, its prompt cache would hold the prefix of the last
turn (if that turn came within the TTL). The cascade breaks that: after a stretch of shipped turns the final
tier's cache is cold, and the next escalation writes the whole prefix (1.25x input) where the all-final path
would have read it (0.1x). Booking that write in the counterfactual overstates the savings by exactly the
penalty the cascade caused. :func:`with_final_cache` moves the tokens the all-final path would have found warm
(``warm``, from the ``cf`` namespace of :class:`tiered.economics.cache_state.CacheState`) from cache writes to
cache reads; it never books fewer reads than the call really made, so an unknown cache state errs towards
smaller savings, never larger ones.
"""

from __future__ import annotations

import dataclasses

from ..decision import TokenUsage

__all__ = ["with_final_cache"]


def with_final_cache(usage: TokenUsage, warm: int) -> TokenUsage:
    """``usage`` with up to ``warm`` tokens of its cached prefix read instead of written. The start of a prefix
    is its one-hour part (longer TTLs come first, the prompt-caching page's "mixing different TTLs"), so the
    one-hour writes are moved first."""
    cached = usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    read = max(usage.cache_read_input_tokens, min(warm, cached))
    moved = read - usage.cache_read_input_tokens
    if moved <= 0:
        return usage
    return dataclasses.replace(
        usage,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=usage.cache_creation_input_tokens - moved,
        cache_creation_1h_input_tokens=max(usage.cache_creation_1h_input_tokens - moved, 0),
    )
