"""Recorded per-query outcomes of a cascade: the input of every backtest.

Two shapes come in and one comes out. A file gives *columns* (see :func:`outcomes_from_columns`); graded
decisions from the log will give *records* (:class:`OutcomeRecord`, see :func:`outcomes_from_records`). Both
become one :class:`Outcomes`: a cascade of ``k + 1`` tiers where each non-final tier ``i`` answers with a
confidence, ships when ``confidence_i >= threshold``, and otherwise escalates to tier ``i + 1``.

Column forms:

* two-tier: ``id, confidence, cheap_correct, deep_correct, cheap_cost_usd, deep_cost_usd``, optional
  ``triage_cost_usd`` (default: ``cheap_cost_usd``) and ``group``. A shipped query costs ``triage_cost_usd``;
  an escalated one ``triage_cost_usd + deep_cost_usd``. ``cheap_cost_usd`` prices the all-cheap reference.
* n-tier: ``confidence_<i>`` for i = 0..k-1 (a ``confidence_<k>`` for the final tier is ignored),
  ``correct_<i>`` and ``cost_usd_<i>`` for i = 0..k, optional ``id`` and ``group``. A query answered by tier
  ``j`` costs ``cost_usd_0 + ... + cost_usd_j``.

A blank confidence means the tier gave no usable confidence (no answer, invalid output): that tier never
ships the query, as in the router.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from tiered.errors import ConfigError

__all__ = [
    "BacktestInputError",
    "Column",
    "OutcomeRecord",
    "Outcomes",
    "outcomes_from_columns",
    "outcomes_from_records",
]

Form = Literal["two-tier", "n-tier"]
# A column as read from CSV or JSON (a list of cells), or already a NumPy array (synthetic data, benchmarks).
Column = Sequence[Any] | NDArray[Any]

_TWO_TIER_REQUIRED = ("confidence", "cheap_correct", "deep_correct", "cheap_cost_usd", "deep_cost_usd")
_TRUE = frozenset({"true", "yes", "y", "t"})
_FALSE = frozenset({"false", "no", "n", "f"})
# Exact cell texts that a CSV of outcomes is mostly made of, for the fast path.
_TOKENS: dict[Any, float] = {
    **{text: 1.0 for text in ("1", "1.0", "true", "True", "TRUE")},
    **{text: 0.0 for text in ("0", "0.0", "false", "False", "FALSE")},
    **{text: math.nan for text in ("", "nan", "NaN", "NA", "null", "None")},
}


class BacktestInputError(ConfigError):
    """The outcomes file or records cannot be read as a backtest; the message names the column and row."""


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One graded query: what each tier said and whether it was right.

    ``confidence`` has one entry per non-final tier (``None``: no usable confidence); ``correct`` and
    ``cost_usd`` one per tier, the cost being that of calling the tier inside the cascade (a triage call for
    non-final tiers). ``first_tier_plain_cost_usd`` prices tier 0 answering alone, without the triage
    instruction (default: ``cost_usd[0]``).
    """

    id: str
    confidence: tuple[float | None, ...]
    correct: tuple[bool, ...]
    cost_usd: tuple[float, ...]
    first_tier_plain_cost_usd: float | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Outcomes:
    """Column arrays of ``n`` queries through a cascade of ``tiers`` tiers.

    ``confidence`` is ``(n, tiers - 1)`` with ``-inf`` where a tier gave no confidence (``has_confidence``
    says where); ``correct`` and ``cost`` are ``(n, tiers)``; ``plain_cost`` is ``(n,)``, the cost of tier 0
    answering alone. ``groups`` holds a slice name per query when the input had a ``group`` column.
    """

    confidence: NDArray[np.float64]
    has_confidence: NDArray[np.bool_]
    correct: NDArray[np.bool_]
    cost: NDArray[np.float64]
    plain_cost: NDArray[np.float64]
    ids: NDArray[np.str_] | None
    groups: NDArray[np.str_] | None
    form: Form
    source: str

    @property
    def n(self) -> int:
        return int(self.correct.shape[0])

    @property
    def tiers(self) -> int:
        return int(self.correct.shape[1])

    def subset(self, mask: NDArray[np.bool_]) -> Outcomes:
        """The queries where ``mask`` is true (a slice, or one side of a split)."""
        return Outcomes(
            confidence=self.confidence[mask],
            has_confidence=self.has_confidence[mask],
            correct=self.correct[mask],
            cost=self.cost[mask],
            plain_cost=self.plain_cost[mask],
            ids=self.ids[mask] if self.ids is not None else None,
            groups=self.groups[mask] if self.groups is not None else None,
            form=self.form,
            source=self.source,
        )


def outcomes_from_columns(
    columns: Mapping[str, Column],
    *,
    rename: Mapping[str, str] | None = None,
    source: str = "<columns>",
) -> Outcomes:
    """Build :class:`Outcomes` from named columns (strings as read from CSV, or JSON values).

    ``rename`` maps an expected column name to the name it has in the input (``{"confidence": "score"}``).
    """
    cols = dict(columns)
    for expected, actual in (rename or {}).items():
        if actual not in cols:
            raise BacktestInputError(
                f"{source}: --columns maps {expected!r} to {actual!r}, but there is no column {actual!r}. "
                f"Columns found: {', '.join(sorted(cols)) or 'none'}."
            )
        cols[expected] = cols.pop(actual)
    n = _row_count(cols, source)
    if n == 0:
        raise BacktestInputError(f"{source} holds no rows; a backtest needs recorded outcomes.")
    if "confidence_0" in cols:
        form: Form = "n-tier"
        conf, correct, cost = _n_tier(cols, source)
        plain_cost = cost[:, 0].copy()
    else:
        form = "two-tier"
        missing = [name for name in _TWO_TIER_REQUIRED if name not in cols]
        if missing:
            raise BacktestInputError(
                f"{source} lacks the column(s) {', '.join(missing)}. The two-tier form needs "
                f"{', '.join(_TWO_TIER_REQUIRED)} (optional triage_cost_usd, group, id); the n-tier form "
                "confidence_<i>, correct_<i>, cost_usd_<i>. Use --columns NAME=COLUMN to map other names."
            )
        plain_cost = _floats(cols, "cheap_cost_usd", source, allow_blank=False)
        triage = (
            _floats(cols, "triage_cost_usd", source, allow_blank=False)
            if "triage_cost_usd" in cols
            else plain_cost.copy()
        )
        conf = _floats(cols, "confidence", source, allow_blank=True)[:, None]
        correct = np.stack([_bools(cols, "cheap_correct", source), _bools(cols, "deep_correct", source)], 1)
        cost = np.stack([triage, _floats(cols, "deep_cost_usd", source, allow_blank=False)], 1)
    for name, arr in (("cost", cost), ("cheap_cost_usd", plain_cost)):
        if np.any(arr < 0):
            raise BacktestInputError(f"{source}: a {name} value is negative; costs are US dollars >= 0.")
    has_conf = ~np.isnan(conf)
    conf = np.where(has_conf, conf, -np.inf)
    return Outcomes(
        confidence=conf,
        has_confidence=has_conf,
        correct=correct,
        cost=cost,
        plain_cost=plain_cost,
        ids=np.asarray(cols["id"], dtype=np.str_) if "id" in cols else None,
        groups=np.asarray(["" if g is None else g for g in cols["group"]], dtype=np.str_) if "group" in cols else None,
        form=form,
        source=source,
    )


def outcomes_from_records(records: Iterable[OutcomeRecord], *, source: str = "<records>") -> Outcomes:
    """Build :class:`Outcomes` from graded records; every record must have the same number of tiers."""
    rows = list(records)
    if not rows:
        raise BacktestInputError(f"{source} holds no records; a backtest needs graded outcomes.")
    tiers = len(rows[0].correct)
    for index, rec in enumerate(rows):
        if len(rec.correct) != tiers or len(rec.cost_usd) != tiers or len(rec.confidence) != tiers - 1:
            raise BacktestInputError(
                f"{source}: record {index} ({rec.id!r}) has {len(rec.correct)} tiers of outcomes, "
                f"{len(rec.cost_usd)} costs and {len(rec.confidence)} confidences; every record needs "
                f"{tiers} outcomes and costs and {tiers - 1} confidences."
            )
    cols: dict[str, list[Any]] = {"id": [r.id for r in rows]}
    for i in range(tiers):
        if i < tiers - 1:
            cols[f"confidence_{i}"] = [r.confidence[i] for r in rows]
        cols[f"correct_{i}"] = [r.correct[i] for r in rows]
        cols[f"cost_usd_{i}"] = [r.cost_usd[i] for r in rows]
    if any(r.group is not None for r in rows):
        cols["group"] = [r.group for r in rows]
    out = outcomes_from_columns(cols, source=source)
    plain = np.asarray(
        [r.cost_usd[0] if r.first_tier_plain_cost_usd is None else r.first_tier_plain_cost_usd for r in rows],
        dtype=np.float64,
    )
    return Outcomes(
        confidence=out.confidence,
        has_confidence=out.has_confidence,
        correct=out.correct,
        cost=out.cost,
        plain_cost=plain,
        ids=out.ids,
        groups=out.groups,
        form="two-tier" if tiers == 2 else "n-tier",
        source=source,
    )


def _row_count(cols: Mapping[str, Column], source: str) -> int:
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise BacktestInputError(f"{source}: columns have different lengths; every row needs every column.")
    return lengths.pop() if lengths else 0


def _n_tier(
    cols: Mapping[str, Column], source: str
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    indices = sorted(int(m.group(1)) for name in cols if (m := re.fullmatch(r"correct_(\d+)", name)))
    tiers = len(indices)
    if tiers < 2 or indices != list(range(tiers)):
        raise BacktestInputError(
            f"{source}: the n-tier form needs correct_0, correct_1, ... numbered without gaps for at least "
            f"two tiers; found {', '.join(f'correct_{i}' for i in indices) or 'none'}."
        )
    needed = [f"confidence_{i}" for i in range(tiers - 1)] + [f"cost_usd_{i}" for i in range(tiers)]
    missing = [name for name in needed if name not in cols]
    if missing:
        raise BacktestInputError(
            f"{source}: the n-tier form with {tiers} tiers lacks {', '.join(missing)}. Each tier i needs "
            "correct_<i> and cost_usd_<i>; each non-final tier confidence_<i>."
        )
    conf = np.stack([_floats(cols, f"confidence_{i}", source, allow_blank=True) for i in range(tiers - 1)], 1)
    correct = np.stack([_bools(cols, f"correct_{i}", source) for i in range(tiers)], 1)
    cost = np.stack([_floats(cols, f"cost_usd_{i}", source, allow_blank=False) for i in range(tiers)], 1)
    return conf, correct, cost


def _floats(cols: Mapping[str, Column], name: str, source: str, *, allow_blank: bool) -> NDArray[np.float64]:
    values = cols[name]
    try:
        arr = _fast_floats(values)
    except (AttributeError, KeyError, TypeError, ValueError):
        arr = np.asarray([_parse_float(v, name, row, source) for row, v in enumerate(values)], dtype=np.float64)
    if np.isinf(arr).any():
        row = int(np.flatnonzero(np.isinf(arr))[0])
        raise BacktestInputError(f"{source}: column {name!r}, row {row + 1} is infinite; give a finite number.")
    if not allow_blank and np.isnan(arr).any():
        row = int(np.flatnonzero(np.isnan(arr))[0])
        raise BacktestInputError(f"{source}: column {name!r}, row {row + 1} is blank; it needs a number.")
    return arr


def _fast_floats(values: Column) -> NDArray[np.float64]:
    """Numbers, or CSV cells that are numbers, booleans or blanks, without a Python call per cell."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    try:
        return np.fromiter((_TOKENS[v] for v in values), dtype=np.float64, count=len(values))
    except (KeyError, TypeError):
        pass
    return np.asarray([v if v.strip() else "nan" for v in values], dtype=np.float64)


def _bools(cols: Mapping[str, Column], name: str, source: str) -> NDArray[np.bool_]:
    arr = _floats(cols, name, source, allow_blank=False)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(
            f"{source}: column {name!r}, row {row + 1} is {arr[row]!r}; correctness must be 0/1 or true/false."
        )
    return np.asarray(arr == 1, dtype=np.bool_)


def _parse_float(value: Any, name: str, row: int, source: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "na", "nan", "null", "none"):
            return math.nan
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        try:
            return float(text)
        except ValueError:
            pass
    raise BacktestInputError(f"{source}: column {name!r}, row {row + 1} is {value!r}, which is not a number.")
