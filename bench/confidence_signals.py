"""Offline evidence for issue #21: how well confidence signals that cost no extra call rank correctness.

Run: .venv/bin/python bench/confidence_signals.py [--data DIR] [--folds 5] [--seed 0] [--write]

On the shared data (``../shared/data`` beside the checkout, or ``--data``; skipped cleanly when absent):

* gastro (Naderi et al., arXiv:2503.18562): per cheap model, the AUROC of its stated 0-10 confidence with a
  DeLong 95% interval, its ECE, and the cross-validated ``learned`` signal over the only features the data
  holds that a router would have: the stated confidence and whether one was given. Other models'
  confidences and correctness are per-question facts a router does not have at triage time; they are not
  used.
* GSM8K (RouteLLM evals): features of Mixtral-8x7B's answer text and of the question (``tiered.confidence``)
  against its correctness, cross-validated (stratified k-fold, ``--seed``); AUROC with DeLong intervals and
  ECE per feature set; then savings at a false-confident target with the project's guarantee
  (``tiered.offline``: sweep, fixed-sequence recommend, Clopper-Pearson bound) on a held-out half, with the
  model fitted on the other half, both ways round.

``--write`` stores the results in ``bench/results/confidence_signals.json`` and puts its section in
BENCHMARKS.md, below the marker of the sections run by hand (a regeneration by ``bench/run.py`` keeps them).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.confidence import FEATURE_NAMES, SignalInput, features
from tiered.confidence.learned import Kind, LearnedConfidence, cross_validated_scores
from tiered.confidence.metrics import auroc_interval, expected_calibration_error, paired_difference
from tiered.offline.backtest import run_backtest
from tiered.offline.bounds import clopper_pearson_upper
from tiered.offline.gastro import ATTRIBUTION as GASTRO_ATTRIBUTION
from tiered.offline.gastro import ListPrice
from tiered.offline.outcomes import Outcomes, outcomes_from_columns
from tiered.offline.recommend import MaxFalseConfident
from tiered.offline.recommend_fallback import FALLBACK, FIXED_SEQUENCE
from tiered.offline.sweep import Point, default_grid, evaluate, references, sweep

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "confidence_signals.json"
GSM8K_ATTRIBUTION = "Data: RouteLLM evals (github.com/lm-sys/RouteLLM, routellm/evals/, commit 0b64fda), Apache-2.0."
# Small or cheap models of the gastro data; every model is summarised too.
CHEAP_MODELS = (
    "ClaudeHiakuWeb-raw",
    "claude-3-haiku-20240307",
    "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo-0125",
    "Llama3.1-8B",
    "Mixtral-8x7B-Poe",
    "gemma2-9b-it",
    "Phi-3.5-4b",
)
CHEAP, DEEP = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
# Stand-in list prices (genai-prices, USD per MTok): Claude Haiku 4.5 for the cheap tier, Opus 4.7 for the deep.
CHEAP_PRICE, DEEP_PRICE = ListPrice(1.0, 5.0), ListPrice(5.0, 25.0)
CHARS_PER_TOKEN = 4.0
FCR_TARGETS = (0.10, 0.20, 0.30)
DELTA = 0.05
_ANSWER = tuple(n for n in FEATURE_NAMES if not n.startswith(("request_", "conversation_", "kind_", "stated", "has_")))
_REQUEST = ("request_log_chars", "request_log_numbers")
_ALL = (*_ANSWER, *_REQUEST, "request_numbers_used")


def find_data(explicit: Path | None) -> Path | None:
    """``--data``, ``$TIERED_SHARED_DATA``, or ``shared/data`` beside the checkout (or beside its parent)."""
    if explicit is not None:
        return explicit if explicit.is_dir() else None
    env = os.environ.get("TIERED_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
    return next((c for c in candidates if c.is_dir()), None)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _interval(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> dict[str, float] | None:
    found = auroc_interval(scores, labels)
    return None if found is None else {"auroc": found.auroc, "low": found.low, "high": found.high}


def _number(cell: str) -> float:
    """A stated confidence; blank, ``cell_empty`` and ``no_confidence`` cells are missing (NaN)."""
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def gastro(path: Path, *, folds: int, seed: int) -> dict[str, Any]:
    """Stated confidence per model, and the learned signal over routing-time features, cross-validated."""
    rows = _read(path)
    models = sorted({c.removesuffix("_confidence") for c in rows[0] if c.endswith("_confidence")})
    summary = []
    for model in models:
        conf = np.array([_number(r[f"{model}_confidence"]) for r in rows])
        right = np.array([r[f"{model}_correctness"].strip() in {"1", "1.0", "True"} for r in rows])
        has = np.isfinite(conf)
        entry: dict[str, Any] = {
            "model": model,
            "n": int(has.sum()),
            "accuracy": float(right[has].mean()),
            "mean_stated": float(conf[has].mean() / 10),
            "stated": _interval(conf[has], right[has]),
            "stated_ece": expected_calibration_error(conf[has] / 10, right[has]),
        }
        if model in CHEAP_MODELS:
            # The one feature a router has here: the stated confidence (on the queries that have one).
            scores = cross_validated_scores(conf[has, None] / 10, right[has], kind="logistic", folds=folds, seed=seed)
            entry["learned"] = _interval(scores, right[has])
            entry["learned_ece"] = expected_calibration_error(scores, right[has])
        summary.append(entry)
    return {"source": path.name, "rows": len(rows), "models": summary, "attribution": GASTRO_ATTRIBUTION}


def gsm8k_features(rows: Sequence[dict[str, str]]) -> NDArray[np.float64]:
    """The feature matrix of the cheap model's answers (the question is the request; no stated confidence)."""
    return np.array(
        [features(SignalInput(answer=r[f"{CHEAP}_response"], request_text=r["prompt"], kind="math")) for r in rows]
    )


def _columns(names: Sequence[str]) -> list[int]:
    return [FEATURE_NAMES.index(n) for n in names]


def gsm8k_sets() -> list[tuple[str, Sequence[str], Kind]]:
    """(label, features, model kind) of every signal compared on GSM8K."""
    sets: list[tuple[str, Sequence[str], Kind]] = [
        ("answer length alone", ("answer_log_chars",), "logistic"),
        ("final-answer pattern alone", ("final_answer_numeric",), "logistic"),
        ("arithmetic checks alone", ("arithmetic_checks", "arithmetic_error_share"), "logistic"),
        ("request only (size, numbers)", _REQUEST, "logistic"),
        ("answer text (all answer features)", _ANSWER, "logistic"),
        ("answer text + request", _ALL, "logistic"),
        ("answer text + request, boosting", _ALL, "boosting"),
    ]
    return sets


def gsm8k(path: Path, *, folds: int, seed: int) -> dict[str, Any]:
    rows = _read(path)
    x = gsm8k_features(rows)
    right = np.array([r[CHEAP] == "True" for r in rows])
    signals = []
    best_scores: NDArray[np.float64] | None = None
    length_scores: NDArray[np.float64] | None = None
    for label, names, kind in gsm8k_sets():
        scores = cross_validated_scores(x[:, _columns(names)], right, kind=kind, folds=folds, seed=seed)
        signals.append(
            {
                "signal": label,
                "features": list(names),
                "kind": kind,
                "auroc": _interval(scores, right),
                "ece": expected_calibration_error(scores, right),
            }
        )
        if label == "answer length alone":
            length_scores = scores
        if label == "answer text + request":
            best_scores = scores
    assert best_scores is not None and length_scores is not None
    diff = paired_difference(best_scores, length_scores, right)
    return {
        "source": path.name,
        "rows": len(rows),
        "cheap": CHEAP,
        "deep": DEEP,
        "cheap_accuracy": float(right.mean()),
        "deep_accuracy": float(np.mean([r[DEEP] == "True" for r in rows])),
        "signals": signals,
        "best_vs_length": None if diff is None else {"difference": diff.difference, "p_value": diff.p_value},
        "guarantee": guarantee(rows, x, right, folds=folds, seed=seed),
        "all_cheap_fcr": float(1 - right.mean()),
        "top_fcr": _top_fcr(best_scores, right),
        "attribution": GSM8K_ATTRIBUTION,
    }


def _top_fcr(scores: NDArray[np.float64], right: NDArray[np.bool_]) -> dict[str, float]:
    """Wrong among the best-scored ``share`` of queries: the false-confident rate if exactly those shipped."""
    order = np.argsort(-scores, kind="stable")
    return {f"{share:g}": float(1 - right[order[: round(share * right.size)]].mean()) for share in (0.1, 0.25, 0.5)}


def _costs(rows: Sequence[dict[str, str]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-query cost of the cheap and the deep call, tokens estimated from characters."""

    def cost(price: ListPrice, model: str) -> NDArray[np.float64]:
        tokens = [(len(r["prompt"]) / CHARS_PER_TOKEN, len(r[f"{model}_response"]) / CHARS_PER_TOKEN) for r in rows]
        return np.array([price.cost(inp, out) for inp, out in tokens])

    return cost(CHEAP_PRICE, CHEAP), cost(DEEP_PRICE, DEEP)


def _outcomes(
    scores: NDArray[np.float64], right: NDArray[np.bool_], deep_right: NDArray[np.bool_], costs: tuple[Any, Any]
) -> Outcomes:
    columns = {
        "confidence": scores.tolist(),
        "cheap_correct": right.tolist(),
        "deep_correct": deep_right.tolist(),
        "cheap_cost_usd": costs[0].tolist(),
        "deep_cost_usd": costs[1].tolist(),
    }
    return outcomes_from_columns(columns, source="gsm8k")


def _row(split: str, method: str, target: float, met: bool, point: Point, bound: float | None) -> dict[str, Any]:
    return {
        "split": split,
        "method": method,
        "n": point.n,
        "target": target,
        "met": met,
        "threshold": point.threshold,
        "ship_rate": 1 - point.escalation_rate,
        "false_confident": point.false_confident_rate,
        "bound": bound,
        "savings": point.savings_vs_deep,
        "quality_vs_deep": point.quality_vs_deep,
    }


def _select_then_test(train: Outcomes, test: Outcomes, target: float, split: str) -> dict[str, Any]:
    """Pick the threshold on the training half (out-of-fold scores), then one exact test on the held-out half.

    One threshold fixed before the held-out half is seen needs no multiplicity correction: the
    Clopper-Pearson bound at ``DELTA`` holds for it as it stands.
    """
    grid = default_grid((0.0, 1.0))
    found = sweep(train, grid)
    upper = clopper_pearson_upper(found.shipped_wrong, found.shipped, DELTA)
    ok = np.flatnonzero((upper <= target) & (found.shipped > 0))
    if ok.size == 0:
        return _row(split, "select, then test", target, False, references(test)[1], None)
    # the threshold that ships the most on the training half (the grid runs from the highest down)
    point = evaluate(test, float(found.thresholds[ok[-1]]))
    bound = float(clopper_pearson_upper(point.shipped_wrong, point.shipped, DELTA))
    # the tested threshold is shown even when it fails: how far it missed is the finding
    return _row(split, "select, then test", target, point.shipped > 0 and bound <= target, point, bound)


def guarantee(
    rows: Sequence[dict[str, str]], x: NDArray[np.float64], right: NDArray[np.bool_], *, folds: int, seed: int
) -> list[dict[str, Any]]:
    """Fit on one half, certify a threshold on the other with the backtest's guarantee; both ways round."""
    rng = np.random.default_rng(seed)
    half = np.zeros(right.size, dtype=bool)
    for label in (True, False):  # stratified: each half keeps the accuracy
        members = rng.permutation(np.flatnonzero(right == label))
        half[members[: members.size // 2]] = True
    x = x[:, _columns(_ALL)]
    cheap_cost, deep_cost = _costs(rows)
    deep_right = np.array([r[DEEP] == "True" for r in rows])
    out = []
    for split, train in (("A->B", half), ("B->A", ~half)):
        test = ~train
        model = LearnedConfidence("logistic", seed=seed).fit(x[train], right[train])
        held_out = _outcomes(model.predict(x[test]), right[test], deep_right[test], (cheap_cost[test], deep_cost[test]))
        in_sample = _outcomes(
            cross_validated_scores(x[train], right[train], folds=folds, seed=seed),
            right[train],
            deep_right[train],
            (cheap_cost[train], deep_cost[train]),
        )
        for target in FCR_TARGETS:
            for procedure in (FIXED_SEQUENCE, FALLBACK):
                result = run_backtest(
                    held_out,
                    objective=MaxFalseConfident(target),
                    delta=DELTA,
                    scale=(0.0, 1.0),
                    fcr_procedure=procedure,
                )
                rec = result.recommendation
                assert rec is not None
                bound = rec.bound.value if rec.bound is not None else None
                out.append(_row(split, procedure, target, rec.met, rec.point, bound))
            out.append(_select_then_test(in_sample, held_out, target, split))
    return out


def run(data: Path, *, folds: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {
        "command": _command(folds, seed),
        "folds": folds,
        "seed": seed,
        "delta": DELTA,
        "python": platform.python_version(),
    }
    gastro_csv = data / "verbalized-confidence-gastro" / "merged_confidence_correctness_new.csv"
    gsm8k_csv = data / "routellm-evals" / "gsm8k_responses.csv"
    results["gastro"] = gastro(gastro_csv, folds=folds, seed=seed) if gastro_csv.is_file() else None
    results["gsm8k"] = gsm8k(gsm8k_csv, folds=folds, seed=seed) if gsm8k_csv.is_file() else None
    results["seconds"] = time.monotonic() - started
    return results


def _command(folds: int, seed: int) -> str:
    extra = f" --folds {folds}" if folds != 5 else ""
    return f".venv/bin/python bench/confidence_signals.py{extra}{f' --seed {seed}' if seed else ''} --write"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="the shared data folder (default: shared/data beside the checkout)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--write", action="store_true", help=f"store the results in {RESULTS.relative_to(REPO)} and BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    data = find_data(args.data)
    if data is None:
        print("shared data not found (pass --data DIR or set TIERED_SHARED_DATA): nothing to evaluate")
        return 0
    results = run(data, folds=args.folds, seed=args.seed)
    from bench.confidence_report import render_markdown, section, update_benchmarks
    from bench.harness.report import HAND_RUN_MARKER

    if args.write:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        update_benchmarks(REPO / "BENCHMARKS.md", section(results), HAND_RUN_MARKER)
    print(render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
