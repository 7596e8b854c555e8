"""Markdown helpers shared by the report's sections."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ms", "table"]


def ms(value: Any, digits: int = 2) -> str:
    """A duration in milliseconds, or ``n/a`` when it was not measured (``None`` or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
