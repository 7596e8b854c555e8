"""Shadow projections: from ``shadow_results`` rows, what a route would ship, save and get wrong at each
candidate threshold, and the threshold ``tiered backtest --from-log`` recommends from them.

At a threshold ``t`` a row *ships* when its triage could ship (no ``problem``) and its confidence is at least
``t``. Per (route, slice) and threshold:

* **ship rate**: shipped rows over all rows;
* **savings**: for a shipped row the final tier's cost minus the triage's, for any other row minus the
  triage's (it was paid for nothing), summed, and as a share of what the final tier cost on all rows;
* **false-confident rate**: ``incorrect`` among shipped rows with a decisive verdict (``unsure`` and
  unjudged rows left out), with its one-sided Clopper-Pearson upper bound at the route's
  ``confidence_level``. The shadow share is a uniform sample of the route's answered requests, so the rate is
  unbiased for the route's traffic at every threshold, below the current one too: this is what a live audit
  cannot see.

The recommendation is :func:`tiered.offline.backtest.run_backtest` with ``MaxFalseConfident`` at the route's
``max_false_confident`` and ``delta = 1 - confidence_level`` over the same grid (fixed-sequence testing, its
guarantee in its message), on the rows read as outcomes by :func:`tiered.offline.from_log.shadow_log`; it
needs the ``eval`` extra (numpy, scipy), and says so when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .bounds import clopper_pearson_upper

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.store.shadow import ShadowRow

__all__ = ["DEFAULT_GRID", "ProjectionPoint", "ShadowProjection", "project", "shadow_projections"]

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


@dataclass(frozen=True, slots=True)
class ProjectionPoint:
    threshold: float
    shipped: int
    ship_rate: float | None
    graded: int  # shipped rows with a decisive verdict
    wrong: int
    false_confident_rate: float | None
    upper_bound: float  # one-sided, at the projection's level; 1 with nothing graded
    savings_usd: float
    savings_share: float | None  # of the final tier's cost on all rows


@dataclass(frozen=True, slots=True)
class ShadowProjection:
    route: str
    slice: str | None
    n: int
    level: float
    target: float
    points: tuple[ProjectionPoint, ...]
    recommendation: dict[str, Any] | None = None  # threshold, met, bound, procedure, message
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def project(rows: Sequence[ShadowRow], thresholds: Iterable[float], *, level: float) -> tuple[ProjectionPoint, ...]:
    """The projection of ``rows`` at each threshold (pure)."""
    final_total = sum(r.final_cost_usd or 0.0 for r in rows)
    points = []
    for t in sorted(set(thresholds)):
        shipped = graded = wrong = 0
        savings = 0.0
        for r in rows:
            ships = r.problem is None and r.confidence is not None and r.confidence >= t - 1e-12
            savings += ((r.final_cost_usd or 0.0) if ships else 0.0) - (r.triage_cost_usd or 0.0)
            if ships:
                shipped += 1
                if r.verdict in ("correct", "incorrect"):
                    graded += 1
                    wrong += r.verdict == "incorrect"
        points.append(
            ProjectionPoint(
                threshold=t,
                shipped=shipped,
                ship_rate=shipped / len(rows) if rows else None,
                graded=graded,
                wrong=wrong,
                false_confident_rate=wrong / graded if graded else None,
                upper_bound=clopper_pearson_upper(wrong, graded, 1.0 - level),
                savings_usd=savings,
                savings_share=savings / final_total if final_total > 0 else None,
            )
        )
    return tuple(points)


def _recommend(rows: Sequence[ShadowRow], grid: Sequence[float], target: float, level: float) -> dict[str, Any]:
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("numpy", "scipy")):
        return {"met": False, "message": "install the eval extra (pip install 'tiered[eval]') for a recommendation"}
    from tiered.offline.backtest import run_backtest
    from tiered.offline.from_log import shadow_log
    from tiered.offline.outcomes import outcomes_from_records
    from tiered.offline.recommend import MaxFalseConfident

    log = shadow_log(rows)
    if not log.records:
        return {"met": False, "message": "no shadow row with a decisive verdict yet"}
    outcomes = outcomes_from_records(log.records, source=f"shadow results (route {log.route})")
    result = run_backtest(outcomes, objective=MaxFalseConfident(target), delta=1.0 - level, thresholds=grid)
    rec = result.recommendation
    assert rec is not None
    bound = rec.bound
    return {
        "met": rec.met,
        "threshold": rec.point.threshold if rec.met else None,
        "procedure": rec.procedure,
        "bound": asdict(bound) if bound is not None else None,
        "message": rec.message,
    }


def shadow_projections(
    engine: Engine,
    settings: Settings,
    *,
    route: str | None = None,
    since: datetime | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
    recommend: bool = True,
) -> list[ShadowProjection]:
    """One projection per (route, slice) with shadow rows (and one per route over all its slices)."""
    from tiered.store.shadow import read_shadow_rows

    rows = read_shadow_rows(engine, route=route, since=since)
    groups: dict[tuple[str, str | None], list[ShadowRow]] = {}
    for row in rows:
        groups.setdefault((row.route, None), []).append(row)
        if row.slice is not None:
            groups.setdefault((row.route, row.slice), []).append(row)
    out = []
    for (name, slice_), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        spec = settings.routes.get(name)
        level = spec.confidence_level if spec is not None else 0.95
        target = spec.max_false_confident if spec is not None else 0.05
        thresholds = sorted({*grid, *((spec.threshold,) if spec is not None else ())})
        out.append(
            ShadowProjection(
                route=name,
                slice=slice_,
                n=len(members),
                level=level,
                target=target,
                points=project(members, thresholds, level=level),
                recommendation=_recommend(members, thresholds, target, level) if recommend else None,
            )
        )
    return out
