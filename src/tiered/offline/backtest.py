"""One backtest end to end: sweep the grid, place the reference points, recommend, measure calibration.

:func:`run_backtest` is what the CLI calls; :meth:`BacktestResult.to_json` is what ``--json`` prints.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.offline.bounds import clopper_pearson_upper
from tiered.offline.calibration import CalibrationReport, calibration_report
from tiered.offline.outcomes import Outcomes
from tiered.offline.recommend import Bound, MaxFalseConfident, Objective, Recommendation, recommend
from tiered.offline.recommend_fallback import FALLBACK, FIXED_SEQUENCE, recommend_fallback
from tiered.offline.sweep import (
    SEED_THRESHOLD,
    Point,
    Sweep,
    default_grid,
    evaluate,
    infer_scale,
    references,
    sweep,
)

__all__ = ["FCR_PROCEDURES", "BacktestResult", "GroupRow", "run_backtest"]

FCR_PROCEDURES = (FIXED_SEQUENCE, FALLBACK)
"""How ``--max-false-confident`` is tested; the first is the default (see docs/backtest.md)."""


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One slice (``group`` column) at the headline threshold, with a pointwise ``1 - delta`` FCR bound."""

    group: str
    point: Point
    false_confident_upper: float | None


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """Everything a backtest found; ``headline`` is the recommended point, or the seed's without objective."""

    source: str
    form: str
    n: int
    tiers: int
    scale: tuple[float, float]
    delta: float
    sweep: Sweep
    all_cheap: Point
    all_deep: Point
    oracle: Point
    seed: Point
    recommendation: Recommendation | None
    calibration: CalibrationReport | None
    groups: tuple[GroupRow, ...]
    calibrated: bool

    @property
    def headline(self) -> Point:
        return self.recommendation.point if self.recommendation is not None else self.seed

    @property
    def headline_bound(self) -> Bound | None:
        if self.recommendation is not None:
            return self.recommendation.bound
        if self.seed.false_confident_rate is None:
            return None
        upper = float(clopper_pearson_upper(self.seed.shipped_wrong, self.seed.shipped, self.delta))
        return Bound(
            name="false_confident_rate_upper",
            value=upper,
            target=math.nan,
            delta=self.delta,
            method="Clopper-Pearson upper bound at the seed threshold, fixed in advance (pointwise)",
        )

    def to_json(self, *, include_grid: bool = True) -> dict[str, Any]:
        """One JSON object: the headline fields first, then the details."""
        head = self.headline
        rec = self.recommendation
        bound = self.headline_bound
        out: dict[str, Any] = {
            "threshold": head.threshold if rec is None or rec.met else None,
            "escalate_everything": bool(rec is not None and not rec.met),
            "escalation_rate": head.escalation_rate,
            "accuracy": head.accuracy,
            "false_confident_rate": head.false_confident_rate,
            "cost_per_call_usd": head.cost_per_call_usd,
            "savings_vs_deep": head.savings_vs_deep,
            "quality_vs_deep": head.quality_vs_deep,
            "bound": _bound_json(bound),
            "n": self.n,
            "objective": None
            if rec is None
            else {
                "name": rec.objective,
                "target": rec.target,
                "delta": rec.delta,
                "met": rec.met,
                "procedure": rec.procedure,
            },
            "message": rec.message if rec is not None else _seed_message(self),
            "source": self.source,
            "form": self.form,
            "tiers": self.tiers,
            "scale": list(self.scale),
            "calibrated": self.calibrated,
            "references": {p.label: _point_json(p) for p in (self.all_cheap, self.all_deep, self.oracle, self.seed)},
            "groups": [
                {"group": g.group, **_point_json(g.point), "false_confident_upper": g.false_confident_upper}
                for g in self.groups
            ],
            "calibration": _calibration_json(self.calibration),
        }
        if include_grid:
            out["grid"] = [_point_json(self.sweep.point(i)) for i in range(self.sweep.thresholds.size)]
        clean: dict[str, Any] = _finite(out)
        return clean


def run_backtest(
    outcomes: Outcomes,
    *,
    objective: Objective | None = None,
    delta: float = 0.05,
    thresholds: Sequence[float] | None = None,
    steps: int = 101,
    scale: tuple[float, float] | None = None,
    bins: int = 10,
    model: str | None = None,
    calibrated: bool = False,
    fcr_procedure: str = FIXED_SEQUENCE,
) -> BacktestResult:
    """Backtest ``outcomes`` over a threshold grid (default: ``steps`` points over the score's scale).

    ``fcr_procedure`` (one of :data:`FCR_PROCEDURES`) says how a ``MaxFalseConfident`` objective is tested.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if fcr_procedure not in FCR_PROCEDURES:
        raise ValueError(f"fcr_procedure must be one of {', '.join(FCR_PROCEDURES)}, got {fcr_procedure!r}")
    scale = scale or infer_scale(outcomes)
    grid: NDArray[np.float64] = np.asarray(thresholds, dtype=np.float64) if thresholds else default_grid(scale, steps)
    seed_t = scale[0] + SEED_THRESHOLD * (scale[1] - scale[0])
    result = sweep(outcomes, grid)
    cheap, deep, oracle = references(outcomes)
    seed = evaluate(outcomes, seed_t, f"seed {SEED_THRESHOLD:g}")
    rec: Recommendation | None = None
    if isinstance(objective, MaxFalseConfident) and fcr_procedure == FALLBACK:
        rec = recommend_fallback(result, objective.rate, delta=delta, all_deep=deep)
    elif objective is not None:
        rec = recommend(result, objective, delta=delta, all_deep=deep)
    head_t = (rec.point.threshold if rec.met else None) if rec is not None else seed_t
    return BacktestResult(
        source=outcomes.source,
        form=outcomes.form,
        n=outcomes.n,
        tiers=outcomes.tiers,
        scale=scale,
        delta=delta,
        sweep=result,
        all_cheap=cheap,
        all_deep=deep,
        oracle=oracle,
        seed=seed,
        recommendation=rec,
        calibration=calibration_report(outcomes, scale, bins=bins, model=model),
        groups=_groups(outcomes, head_t, delta),
        calibrated=calibrated,
    )


def _groups(outcomes: Outcomes, threshold: float | None, delta: float) -> tuple[GroupRow, ...]:
    if outcomes.groups is None:
        return ()
    rows = []
    for name in np.unique(outcomes.groups):
        part = outcomes.subset(outcomes.groups == name)
        # Escalating everything means sending every query to the final tier alone.
        point = (
            dataclasses.replace(references(part)[1], label=str(name))
            if threshold is None
            else evaluate(part, threshold, str(name))
        )
        upper = float(clopper_pearson_upper(point.shipped_wrong, point.shipped, delta)) if point.shipped else None
        rows.append(GroupRow(group=str(name), point=point, false_confident_upper=upper))
    return tuple(rows)


def _seed_message(result: BacktestResult) -> str:
    seed = result.seed
    return (
        f"No objective given: the seed threshold {seed.threshold:g} escalates {seed.escalation_rate:.1%} with "
        f"a false-confident rate of {_pct(seed.false_confident_rate)}. Pass --max-false-confident, "
        "--max-quality-loss or --budget for a recommendation."
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _point_json(point: Point) -> dict[str, Any]:
    return dataclasses.asdict(point)


def _bound_json(bound: Bound | None) -> dict[str, Any] | None:
    return None if bound is None else dataclasses.asdict(bound)


def _calibration_json(report: CalibrationReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    out = dataclasses.asdict(report)
    out["fitted"] = report.fitted.to_dict()
    return out


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
