"""How tiered writes money and percentages for people: one rule for the CLI, the report and the dashboard.

Money carries its sign before the symbol (``-$0.0002``, never ``$-0.0002``) and the precision its size calls
for: ``$1,234`` from a hundred dollars up, ``$12.34`` from one dollar, ``$0.1234`` from a cent (and zero),
``$0.001234`` below. Figures shown side by side (a summary's cost, counterfactual and savings; a table column)
share one precision, set by the largest of them, so ``$0.99`` does not sit beside ``$1.23`` as ``$0.9917``.
The dashboard's ``static/format.js`` mirrors these rules for what the browser formats itself.

Percentages take a fraction (``0.351``) and show one decimal (``35.1%``); an unknown value shows ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["UNKNOWN", "money", "money_digits", "percent", "shared_money_digits"]

UNKNOWN = "-"


def money_digits(value: float) -> int:
    """Decimals for one amount of dollars: 0 from $100, 2 from $1, 4 from a cent (and for zero), 6 below."""
    size = abs(value)
    if size >= 100:
        return 0
    if size >= 1:
        return 2
    if size >= 0.01 or size == 0:
        return 4
    return 6


def shared_money_digits(values: Iterable[float | None]) -> int:
    """One precision for amounts shown together: the one the largest of them calls for."""
    known = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return money_digits(max(known)) if known else 4


def money(value: float | None, *, digits: int | None = None, unknown: str = UNKNOWN) -> str:
    """``value`` dollars as text, sign first: ``-$0.0002``; ``digits`` fixes the decimals (see
    :func:`shared_money_digits`), otherwise the size picks them (:func:`money_digits`)."""
    if value is None or not math.isfinite(value):
        return unknown
    places = money_digits(value) if digits is None else digits
    text = f"{abs(value):,.{places}f}"
    # A value that rounds to zero at this precision is written without a sign: "-$0.00" reads as a loss.
    negative = value < 0 and any(ch not in "0.," for ch in text)
    return f"{'-' if negative else ''}${text}"


def percent(fraction: float | None, *, digits: int = 1, unknown: str = UNKNOWN) -> str:
    """A fraction as a percentage: ``0.3512`` -> ``35.1%``; ``None`` or NaN -> ``unknown``."""
    if fraction is None or not math.isfinite(fraction):
        return unknown
    return f"{100 * fraction:.{digits}f}%"
