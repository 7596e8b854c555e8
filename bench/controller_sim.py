"""Simulate the threshold controller's rules on Bernoulli grade sequences: false alarms and detection delay.

Usage: .venv/bin/python bench/controller_sim.py [--runs 400] [--grades 2000] [--seed 1]

For each rule (two-sided, upper-bound) and true false-confident rate (target 5%, confidence level 95%,
quality.min_grades 30), feed grades one at a time to the pure rule (a look after every grade, the worst case)
and record the grade count at the first raise. Prints the share of runs that raised within ``--grades`` and
the median and 90th percentile of the grades it took. docs/quality.md quotes this table.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime

from tiered.config import load_settings
from tiered.quality.controller_rules import decide
from tiered.quality.stats import FalseConfidentSummary

RATES = (0.025, 0.05, 0.075, 0.10, 0.20, 0.40)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def first_raise(rule: str, rate: float, grades: int, rng: random.Random) -> int | None:
    settings = load_settings(environ={}, overrides={"quality.controller_rule": rule, "quality.min_grades": 30})
    spec, quality = settings.route("default"), settings.quality
    wrong = 0
    for n in range(1, grades + 1):
        wrong += rng.random() < rate
        summary = FalseConfidentSummary("default", None, n, wrong, wrong / n, 1.0, 0.95, 0.05, float(n))
        if rule == "upper-bound":  # the first rule reads the bound from the summary
            from tiered.quality.bounds import clopper_pearson_upper

            summary = FalseConfidentSummary(
                "default", None, n, wrong, wrong / n, clopper_pearson_upper(wrong, n, 0.05), 0.95, 0.05, float(n)
            )
        if decide(spec, quality, 0.8, summary, None, NOW).action == "raise":
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--grades", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"| rule | true rate | raised within {args.grades} grades | median grades | p90 grades |")
    print("|---|---|---|---|---|")
    for rule in ("two-sided", "upper-bound"):
        for rate in RATES:
            found = sorted(d for _ in range(args.runs) if (d := first_raise(rule, rate, args.grades, rng)) is not None)
            share = len(found) / args.runs
            median = found[len(found) // 2] if found and share >= 0.5 else None
            p90 = found[int(0.9 * args.runs)] if share >= 0.9 else None
            print(f"| {rule} | {rate:.3f} | {share:.1%} | {median or '-'} | {p90 or '-'} |")


if __name__ == "__main__":
    main()
