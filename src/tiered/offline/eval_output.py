"""What ``tiered eval`` writes: the outcomes in the backtest format, and a summary of the run.

A two-tier route gives the two-tier form (``id, confidence, cheap_correct, deep_correct, cheap_cost_usd,
deep_cost_usd, triage_cost_usd``), a longer route the n-tier form (``id, confidence_<i>, correct_<i>,
cost_usd_<i>``), both with ``group`` when the dataset has groups (see ``docs/backtest.md``). A blank
confidence means the tier can never ship the item. Costs are at standard rates: they price the cascade as
it runs in production, whether the evaluation itself ran live or at batch rates; ``cheap_cost_usd`` (tier 0
answering alone) is estimated from the triage call as :mod:`tiered.accounting` estimates a counterfactual.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError
from tiered.offline.eval_plan import EvalOutcome
from tiered.offline.eval_run import EvalRun

__all__ = ["outcome_columns", "outcome_rows", "run_summary", "write_outcomes"]


def outcome_columns(tiers: int, *, groups: bool) -> list[str]:
    if tiers == 2:
        names = [
            "id",
            "confidence",
            "cheap_correct",
            "deep_correct",
            "cheap_cost_usd",
            "deep_cost_usd",
            "triage_cost_usd",
        ]
    else:
        names = ["id"]
        names += [f"confidence_{i}" for i in range(tiers - 1)]
        names += [f"correct_{i}" for i in range(tiers)]
        names += [f"cost_usd_{i}" for i in range(tiers)]
    return [*names, "group"] if groups else names


def outcome_rows(outcomes: Sequence[EvalOutcome], tiers: int) -> list[dict[str, Any]]:
    """One mapping per item, keyed by :func:`outcome_columns` (``None`` for a blank confidence)."""
    groups = any(o.group is not None for o in outcomes)
    rows: list[dict[str, Any]] = []
    for o in outcomes:
        if tiers == 2:
            row: dict[str, Any] = {
                "id": o.id,
                "confidence": o.confidence[0],
                "cheap_correct": int(o.correct[0]),
                "deep_correct": int(o.correct[1]),
                "cheap_cost_usd": o.plain_cost_usd,
                "deep_cost_usd": o.cost_usd[1],
                "triage_cost_usd": o.cost_usd[0],
            }
        else:
            row = {"id": o.id}
            row.update({f"confidence_{i}": c for i, c in enumerate(o.confidence)})
            row.update({f"correct_{i}": int(c) for i, c in enumerate(o.correct)})
            row.update({f"cost_usd_{i}": c for i, c in enumerate(o.cost_usd)})
        if groups:
            row["group"] = o.group or ""
        rows.append(row)
    return rows


def write_outcomes(outcomes: Sequence[EvalOutcome], tiers: int, path: Path) -> None:
    """Write the rows as CSV, or as JSON Lines when ``path`` ends in ``.jsonl``."""
    rows = outcome_rows(outcomes, tiers)
    columns = outcome_columns(tiers, groups=any(o.group is not None for o in outcomes))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as out:
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                writer = csv.DictWriter(out, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: "" if v is None else v for k, v in row.items()})
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def run_summary(run: EvalRun) -> dict[str, Any]:
    """The run in numbers: items, spend, and the cascade at the route's own thresholds (standard rates)."""
    n = len(run.outcomes)
    out: dict[str, Any] = {
        "route": run.route,
        "tiers": run.tiers,
        "items": n,
        "failed": len(run.failures),
        "calls_made": run.calls_made,
        "batch": run.batch,
        "paid_usd": run.paid_usd,
        "standard_usd": run.standard_usd,
        "grading_usd": run.grading_usd,
        "cascade": None,
    }
    if n:
        answered = [o.cascade_tier for o in run.outcomes]
        cost = sum(sum(o.cost_usd[: t + 1]) for o, t in zip(run.outcomes, answered, strict=True)) / n
        deep_cost = sum(o.cost_usd[-1] for o in run.outcomes) / n
        out["cascade"] = {
            "escalation_rate": sum(t > 0 for t in answered) / n,
            "accuracy": sum(o.correct[t] for o, t in zip(run.outcomes, answered, strict=True)) / n,
            "final_tier_accuracy": sum(o.correct[-1] for o in run.outcomes) / n,
            "cost_per_call_usd": cost,
            "final_tier_cost_per_call_usd": deep_cost,
            "savings_vs_deep": 1.0 - cost / deep_cost if deep_cost > 0 else None,
        }
    return out
