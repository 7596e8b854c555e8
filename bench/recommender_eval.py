"""How well `tiered backtest --max-false-confident` recommends, on held-out real outcomes (issue #19).

Run: .venv/bin/python bench/recommender_eval.py [--splits 200] [--seed 0] [--targets 0.05,0.1,0.2]
     [--calibration-rows 300] [--delta 0.05] [--data DIR] [--json]

**Data.** Every data set in the shared data folder (``../shared/data`` beside the repository; ``--data``
overrides) that has a per-query confidence *and* correctness for a cheap and an expensive model. Only the
verbalized-confidence gastroenterology data qualifies (Naderi et al., arXiv:2503.18562, Apache-2.0; its
``merged_confidence_correctness_new.csv``). ``routellm-evals`` has correctness for Mixtral and GPT-4 on GSM8K
but no confidence column, so it is not used. Pairs counted (the data README's three; same provider family,
same questions, the cheap model cheaper by list price):

* ``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-2024-05-13``: 0.15/0.60 and 5/15 USD per Mtok (OpenAI list prices,
  as in docs/backtest.md);
* ``Llama3.1-8B`` -> ``Llama3.1-405B``: 0.20/0.60 and 3.50/3.50 (Together AI's list prices; open-weight
  models have no single list price);
* ``ClaudeHiakuWeb-raw`` -> ``ClaudeOpuWeb-raw`` (the web apps of Claude 3 Haiku and Claude 3 Opus):
  0.25/1.25 and 15/75 (Anthropic's API list prices for those models).

``claude-3-haiku-20240307`` -> ``claude-3-opus-20240229`` is left out: a third of its confidences are blank
and both models were graded on 199 questions only. No data set has token counts, so the cost model is
:mod:`tiered.offline.gastro`'s: every question takes 300 input and 150 output tokens at the pair's list
prices, the triage call costs the cheap call, an escalated query pays both. Costs set only the savings scale
and the no-savings check, never the false-confident rate.

**Protocol.** Each of ``--splits`` seeded random splits draws ``--calibration-rows`` (300) calibration rows;
for each target A (0.05, 0.1, 0.2) and each method, the recommender runs on the calibration rows alone,
exactly as ``tiered backtest --max-false-confident A --delta 0.05`` does (``run_backtest``), and its
threshold is replayed on the held-out rows. When the data set has at least twice as many rows as the
calibration set, the held-out rows are the rest (a split). When it has fewer (the gastro data has 300
questions, so 300 calibration rows leave none), the calibration rows are drawn *with replacement* and the
held-out rows are the whole pool: the population is then the pool's empirical distribution, the calibration
sample is i.i.d. from it as the guarantee assumes, and the held-out rates are that population's exact rates.

Per (split, target) cell, with the project's definitions (docs/backtest.md):

* **violated**: the recommendation ships something and its held-out false-confident rate (wrong among
  shipped) exceeds A. Escalating everything never violates.
* **normalised savings**: ``(savings - escalate-all savings) / (best valid savings - escalate-all
  savings)``, where savings are against the final tier alone (``savings_vs_deep``), escalate-all means
  sending every query to the final tier (savings 0, the recommender's own fall-back), and the best valid
  savings is the highest among the held-out rows' thresholds (each distinct confidence) whose held-out
  false-confident rate is at most A (or that ship nothing). A cell where no threshold beats escalate-all on
  the held-out rows has no room (0 / 0): it is counted but left out of the mean.

``--synthetic`` adds a data set with a continuous score, for contrast with the 0-10 verbalized scores: 20,000
rows with confidence ``x ~ U(0, 1)``, the cheap model right with probability ``0.3 + 0.7 x``, the deep one with
probability 0.9, at the gpt-4o-mini -> gpt-4o prices (seeded; the held-out rows are the rest of the 20,000).

Methods: ``fixed-sequence`` (today's default), ``fallback`` (:mod:`tiered.offline.recommend_fallback`), and
for reference ``in-sample`` (the lowest threshold whose false-confident rate *on the calibration rows* is at
most A, no bound: invalid, and shown so that the table visibly can catch a procedure without a guarantee).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tiered.offline.backtest import run_backtest
from tiered.offline.gastro import ATTRIBUTION, ListPrice, gastro_pair_columns
from tiered.offline.outcomes import Outcomes, outcomes_from_columns
from tiered.offline.readers import read_columns
from tiered.offline.recommend import MaxFalseConfident
from tiered.offline.recommend_fallback import FALLBACK, FIXED_SEQUENCE
from tiered.offline.sweep import default_grid, evaluate, infer_scale, sweep

__all__ = [
    "GASTRO_CSV",
    "IN_SAMPLE",
    "PAIRS",
    "Cell",
    "Pair",
    "Summary",
    "datasets",
    "evaluate_dataset",
    "main",
    "render",
    "shared_data_dir",
    "summarise",
    "synthetic_dataset",
]

GASTRO_CSV = Path("verbalized-confidence-gastro") / "merged_confidence_correctness_new.csv"
IN_SAMPLE = "in-sample"
TOKENS_IN, TOKENS_OUT = 300, 150


@dataclass(frozen=True, slots=True)
class Pair:
    cheap: str
    deep: str
    cheap_price: ListPrice
    deep_price: ListPrice


PAIRS = (
    Pair("gpt-4o-mini-2024-07-18", "gpt-4o-2024-05-13", ListPrice(0.15, 0.60), ListPrice(5.0, 15.0)),
    Pair("Llama3.1-8B", "Llama3.1-405B", ListPrice(0.20, 0.60), ListPrice(3.50, 3.50)),
    Pair("ClaudeHiakuWeb-raw", "ClaudeOpuWeb-raw", ListPrice(0.25, 1.25), ListPrice(15.0, 75.0)),
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One (data set, method, split, target): whether it violated, and its normalised savings (None: no
    room on the held-out rows)."""

    dataset: str
    method: str
    split: int
    target: float
    threshold: float | None
    violated: bool
    savings: float
    best_savings: float
    normalised: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    dataset: str
    method: str
    cells: int
    violated: int
    with_room: int
    mean_normalised: float | None
    by_target: dict[str, float | None]


def shared_data_dir(explicit: str | None = None) -> Path:
    """``--data``, else ``shared/data`` beside the repository or beside one of its parent folders (a git
    worktree can sit one level deeper than the clone); the nearest that exists, else the one beside it."""
    if explicit:
        return Path(explicit)
    repo = Path(__file__).resolve().parents[1]
    for folder in repo.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return repo.parent / "shared" / "data"


def datasets(data_dir: Path, pairs: Sequence[Pair] = PAIRS) -> list[tuple[str, Outcomes]]:
    """The (name, outcomes) of every pair whose data is there; empty when the folder is absent."""
    csv_path = data_dir / GASTRO_CSV
    if not csv_path.is_file():
        return []
    columns = read_columns(csv_path)
    out = []
    for pair in pairs:
        cols = gastro_pair_columns(
            columns,
            pair.cheap,
            pair.deep,
            cheap_price=pair.cheap_price,
            deep_price=pair.deep_price,
            input_tokens=TOKENS_IN,
            output_tokens=TOKENS_OUT,
        )
        name = f"{pair.cheap} -> {pair.deep}"
        out.append((name, outcomes_from_columns(cols, source=name)))
    return out


def synthetic_dataset(seed: int = 0, n: int = 20_000) -> tuple[str, Outcomes]:
    """A continuous score with a known shape (see the module docstring), as one more data set."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    pair = PAIRS[0]
    name = "synthetic continuous score (cheap right w.p. 0.3 + 0.7x)"
    cols = {
        "confidence": x,
        "cheap_correct": rng.uniform(size=n) < 0.3 + 0.7 * x,
        "deep_correct": rng.uniform(size=n) < 0.9,
        "cheap_cost_usd": np.full(n, pair.cheap_price.cost(TOKENS_IN, TOKENS_OUT)),
        "deep_cost_usd": np.full(n, pair.deep_price.cost(TOKENS_IN, TOKENS_OUT)),
    }
    return name, outcomes_from_columns(cols, source=name)


def _take(outcomes: Outcomes, index: NDArray[np.intp]) -> Outcomes:
    # Outcomes.subset indexes every column with its argument, so an index array (with repeats) works too.
    return outcomes.subset(index)  # type: ignore[arg-type]


def _draw(n: int, rows: int, rng: np.random.Generator) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Calibration and held-out indices: a split when the pool has room for both, else a resample."""
    if n >= 2 * rows:
        order = rng.permutation(n)
        return order[:rows], order[rows:]
    return rng.integers(0, n, size=rows), np.arange(n)


def _best_valid_savings(held: Outcomes, rate: float) -> float:
    """The highest held-out savings over thresholds that keep the held-out FCR at most ``rate``; escalating
    everything (savings 0) is always allowed."""
    values = held.confidence[held.has_confidence[:, 0], 0]
    if values.size == 0:
        return 0.0
    result = sweep(held, np.unique(values))
    fcr = result.false_confident_rate
    valid = (result.shipped == 0) | (fcr <= rate + 1e-12)
    savings = result.savings_vs_deep[valid]
    return max(0.0, float(np.max(savings))) if savings.size else 0.0


def _in_sample_threshold(calibration: Outcomes, rate: float) -> float | None:
    grid = default_grid(infer_scale(calibration), 101)
    result = sweep(calibration, grid)
    ok = np.flatnonzero((result.shipped > 0) & (result.false_confident_rate <= rate))
    if not ok.size:
        return None
    index = int(ok[-1])
    return float(result.thresholds[index]) if result.savings_vs_deep[index] > 0 else None


def _threshold(calibration: Outcomes, rate: float, delta: float, method: str) -> float | None:
    if method == IN_SAMPLE:
        return _in_sample_threshold(calibration, rate)
    rec = run_backtest(calibration, objective=MaxFalseConfident(rate), delta=delta, fcr_procedure=method)
    return rec.headline.threshold if rec.recommendation is not None and rec.recommendation.met else None


def evaluate_dataset(
    name: str,
    outcomes: Outcomes,
    *,
    splits: int,
    seed: int,
    targets: Sequence[float],
    delta: float,
    calibration_rows: int,
    methods: Sequence[str],
) -> list[Cell]:
    """Every (split, target, method) cell for one data set; the splits are the same for every method."""
    rng = np.random.default_rng(seed)
    cells = []
    for split in range(splits):
        cal_index, held_index = _draw(outcomes.n, calibration_rows, rng)
        calibration, held = _take(outcomes, cal_index), _take(outcomes, held_index)
        for rate in targets:
            best = _best_valid_savings(held, rate)
            for method in methods:
                threshold = _threshold(calibration, rate, delta, method)
                point = evaluate(held, threshold) if threshold is not None else None
                savings = (point.savings_vs_deep or 0.0) if point is not None else 0.0
                fcr = point.false_confident_rate if point is not None else None
                cells.append(
                    Cell(
                        dataset=name,
                        method=method,
                        split=split,
                        target=rate,
                        threshold=threshold,
                        violated=fcr is not None and fcr > rate + 1e-12,
                        savings=savings,
                        best_savings=best,
                        normalised=savings / best if best > 1e-12 else None,
                    )
                )
    return cells


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarise(cells: Sequence[Cell]) -> list[Summary]:
    """One row per (data set, method), then one per method over every real data set (``all``; the
    synthetic one is left out of it)."""
    keys = list(dict.fromkeys((c.dataset, c.method) for c in cells))
    real = [c for c in cells if not c.dataset.startswith("synthetic")]
    keys += [("all", m) for m in dict.fromkeys(c.method for c in real)]
    rows = []
    for dataset, method in keys:
        pool = real if dataset == "all" else cells
        part = [c for c in pool if c.method == method and dataset in ("all", c.dataset)]
        targets = sorted({c.target for c in part})
        rows.append(
            Summary(
                dataset=dataset,
                method=method,
                cells=len(part),
                violated=sum(c.violated for c in part),
                with_room=sum(c.normalised is not None for c in part),
                mean_normalised=_mean(c.normalised for c in part),
                by_target={f"{t:g}": _mean(c.normalised for c in part if c.target == t) for t in targets},
            )
        )
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"


def render(rows: Sequence[Summary]) -> str:
    """The markdown table for BENCHMARKS.md."""
    targets = list(rows[0].by_target) if rows else []
    head = ["data set (cheap -> deep)", "method", "cells", "violated (share)", "cells with room"]
    head += ["mean normalised savings"] + [f"A={t}" for t in targets]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        share = r.violated / r.cells if r.cells else math.nan
        cells = [r.dataset, r.method, str(r.cells), f"{r.violated} ({share:.1%})", str(r.with_room)]
        cells += [_fmt(r.mean_normalised)] + [_fmt(r.by_target[t]) for t in targets]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", help="the shared data folder (default: ../shared/data beside the repository)")
    parser.add_argument("--splits", type=int, default=200, help="random splits per data set (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default="0.05,0.1,0.2", help="false-confident targets A")
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--calibration-rows", type=int, default=300)
    parser.add_argument("--methods", default=f"{FIXED_SEQUENCE},{FALLBACK},{IN_SAMPLE}")
    parser.add_argument("--synthetic", action="store_true", help="add a synthetic data set with a continuous score")
    parser.add_argument("--json", action="store_true", help="print the cells' summary as JSON")
    args = parser.parse_args(argv)
    data_dir = shared_data_dir(args.data)
    found = datasets(data_dir)
    if args.synthetic:
        found.append(synthetic_dataset(args.seed))
    if not found:
        print(f"No shared data at {data_dir}: nothing to evaluate (skipped).")
        return 0
    cells: list[Cell] = []
    for name, outcomes in found:
        cells += evaluate_dataset(
            name,
            outcomes,
            splits=args.splits,
            seed=args.seed,
            targets=_floats(args.targets),
            delta=args.delta,
            calibration_rows=args.calibration_rows,
            methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        )
    rows = summarise(cells)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    designs = ", ".join(
        f"{name}: {'split' if o.n >= 2 * args.calibration_rows else 'resample (held out = the pool)'}"
        for name, o in found
    )
    print(
        f"{args.splits} splits per data set, seed {args.seed}, {args.calibration_rows} calibration rows, "
        f"targets {args.targets}, delta {args.delta}\ndesign: {designs}\n"
    )
    print(render(rows))
    print(f"\n{ATTRIBUTION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
