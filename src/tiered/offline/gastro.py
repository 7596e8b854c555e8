"""Build the two-tier backtest form from the verbalized-confidence gastroenterology data.

``merged_confidence_correctness_new.csv`` (Naderi et al., arXiv:2503.18562; Apache-2.0) has, per model, a
``<model>_confidence`` column (a stated confidence on a 0-10 scale, blank where missing) and a
``<model>_correctness`` column (0/1), one row per board-exam question. Pairing a cheap model with a deep one
gives the seed's cascade: the cheap model's stated confidence decides whether its answer ships.

The data has no token counts, so cost is modelled: every question is assumed to take the same number of
input and output tokens, priced at each model's list price (USD per million tokens) given by the caller.
The triage call costs the cheap model's call plus ``triage_overhead_tokens`` input tokens (the triage
instruction), zero by default. Costs then only scale the cost axis; the ranking of thresholds and every
accuracy and false-confident figure do not depend on them.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tiered.offline.outcomes import BacktestInputError, Column

__all__ = ["ATTRIBUTION", "ListPrice", "gastro_models", "gastro_pair_columns", "write_columns_csv"]

ATTRIBUTION: Final = (
    'Data: Naderi et al., "Self-Reported Confidence of Large Language Models in Gastroenterology" '
    "(arXiv:2503.18562), github.com/narimannr2x/confidence_scoring, Apache-2.0."
)


@dataclass(frozen=True, slots=True)
class ListPrice:
    """A model's list price in USD per million input and output tokens."""

    input_per_mtok: float
    output_per_mtok: float

    @classmethod
    def parse(cls, text: str) -> ListPrice:
        """Read ``IN/OUT`` (e.g. ``0.15/0.60``)."""
        try:
            inp, out = (float(part) for part in text.split("/"))
        except ValueError as exc:
            raise BacktestInputError(
                f"Cannot read the price {text!r}: write INPUT/OUTPUT in USD per million tokens, e.g. 0.15/0.60."
            ) from exc
        if inp < 0 or out < 0:
            raise BacktestInputError(f"The price {text!r} is negative; list prices are >= 0.")
        return cls(inp, out)

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1_000_000


def gastro_models(columns: Mapping[str, Sequence[Any]]) -> list[str]:
    """The models that have both a confidence and a correctness column."""
    names = {c.removesuffix("_confidence") for c in columns if c.endswith("_confidence")}
    return sorted(name for name in names if f"{name}_correctness" in columns)


def gastro_pair_columns(
    columns: Mapping[str, Sequence[Any]],
    cheap: str,
    deep: str,
    *,
    cheap_price: ListPrice,
    deep_price: ListPrice,
    input_tokens: float = 300,
    output_tokens: float = 150,
    triage_overhead_tokens: float = 0,
) -> dict[str, list[Any]]:
    """The two-tier columns for the ``cheap -> deep`` pair (confidence stays on the 0-10 scale)."""
    models = gastro_models(columns)
    for name in (cheap, deep):
        if name not in models:
            raise BacktestInputError(
                f"No model {name!r} in the gastro data (it needs {name}_confidence and {name}_correctness). "
                f"Models: {', '.join(models)}."
            )
    n = len(columns[f"{cheap}_correctness"])
    cheap_cost = cheap_price.cost(input_tokens, output_tokens)
    triage_cost = cheap_price.cost(input_tokens + triage_overhead_tokens, output_tokens)
    return {
        "id": [str(i) for i in range(n)],
        "confidence": list(columns[f"{cheap}_confidence"]),
        "cheap_correct": list(columns[f"{cheap}_correctness"]),
        "deep_correct": list(columns[f"{deep}_correctness"]),
        "cheap_cost_usd": [cheap_cost] * n,
        "deep_cost_usd": [deep_price.cost(input_tokens, output_tokens)] * n,
        "triage_cost_usd": [triage_cost] * n,
    }


def write_columns_csv(columns: Mapping[str, Column], path: str | Path) -> None:
    """Write columns as a CSV that ``tiered backtest`` reads (None becomes a blank cell)."""
    names = list(columns)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in zip(*(columns[name] for name in names), strict=True):
            writer.writerow("" if v is None else v for v in row)
