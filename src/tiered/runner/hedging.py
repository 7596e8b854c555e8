"""The cost of a hedged call that lost (``RouteSettings.hedge_after_ms``; the race is in
:mod:`tiered.runner.legs`).

Both calls of a hedge are recorded. A cancelled call reports no usage, so its cost is estimated from the other
call's input tokens (the triage instruction added or removed) and no output: a lower bound, noted on the
attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..accounting import INSTRUCTION_TOKENS
from ..decision import AttemptRole, TokenUsage

if TYPE_CHECKING:
    from .attempts import PendingAttempt

__all__ = ["estimate_cancelled"]


def estimate_cancelled(cancelled: PendingAttempt, other: PendingAttempt) -> None:
    """Give a cancelled call the input tokens the other call reported (its cost is then a lower bound)."""
    if cancelled.usage != TokenUsage():
        return
    usage = other.usage
    if usage == TokenUsage():
        return
    shift = INSTRUCTION_TOKENS if cancelled.call.role is AttemptRole.TRIAGE else -INSTRUCTION_TOKENS
    cancelled.usage = TokenUsage(
        input_tokens=max(usage.input_tokens + shift, 0),
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_creation_1h_input_tokens=usage.cache_creation_1h_input_tokens,
    )
    cancelled.usage_estimated = True
    cancelled.error = "cancelled: lost the hedge (cost estimated from input tokens, a lower bound)"
