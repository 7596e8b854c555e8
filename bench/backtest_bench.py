"""Benchmark of `tiered backtest`: rows per second for the sweep, the whole backtest, and reading a CSV.

Run: .venv/bin/python bench/backtest_bench.py [--rows 1000000] [--tiers 2] [--repeat 3] [--io]
Prints one line per stage (best of --repeat runs) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tiered.offline.backtest import run_backtest
from tiered.offline.gastro import write_columns_csv
from tiered.offline.outcomes import outcomes_from_columns
from tiered.offline.readers import read_outcomes
from tiered.offline.recommend import MaxFalseConfident
from tiered.offline.sweep import default_grid, sweep


def columns(rows: int, tiers: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(tiers):
        if i < tiers - 1:
            conf = rng.uniform(size=rows)
            cols[f"confidence_{i}"] = conf
            cols[f"correct_{i}"] = rng.uniform(size=rows) < 0.3 + 0.7 * conf
        else:
            cols[f"correct_{i}"] = rng.uniform(size=rows) < 0.9
        cols[f"cost_usd_{i}"] = np.full(rows, 0.001 * 10**i)
    cols["group"] = rng.choice(["chat", "code", "search"], size=rows)
    return cols


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tiers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--io", action="store_true", help="also write and read back a CSV of --rows rows")
    args = parser.parse_args()
    cols = columns(args.rows, args.tiers)
    outcomes = outcomes_from_columns(cols, source="bench")
    grid = default_grid((0.0, 1.0), 101)
    print(
        f"# tiered backtest benchmark: {args.rows:,} rows, {args.tiers} tiers, 101 thresholds, "
        f"best of {args.repeat}; {platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs"
    )
    stages: list[tuple[str, Callable[[], object]]] = [
        ("columns -> outcomes", lambda: outcomes_from_columns(cols, source="bench")),
        ("sweep (all thresholds)", lambda: sweep(outcomes, grid)),
        (
            "backtest (sweep, recommend, calibration, slices)",
            lambda: run_backtest(outcomes, objective=MaxFalseConfident(0.1)),
        ),
    ]
    for name, fn in stages:
        seconds = best(fn, args.repeat)
        print(f"{name:<52} {seconds:8.3f} s  {args.rows / seconds:14,.0f} rows/s")
    if args.io:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "outcomes.csv"
            write_columns_csv({k: list(v) for k, v in cols.items()}, path)
            seconds = best(lambda: read_outcomes(path), 1)
            print(f"{'read CSV -> outcomes':<52} {seconds:8.3f} s  {args.rows / seconds:14,.0f} rows/s")


if __name__ == "__main__":
    main()
