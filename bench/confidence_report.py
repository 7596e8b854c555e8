"""The BENCHMARKS.md section of ``bench/confidence_signals.py``, rendered from its results JSON.

The section is run by hand, so it lives below ``bench/harness/report.py``'s ``HAND_RUN_MARKER``, which a
regeneration of BENCHMARKS.md keeps; ``confidence_signals.py --write`` replaces it there (or appends it).
Standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["HEADING", "RESULTS", "render_markdown", "section", "update_benchmarks"]

RESULTS = Path(__file__).resolve().parent / "results" / "confidence_signals.json"
HEADING = "## Confidence signals on recorded outcomes"


def _ci(entry: dict[str, float] | None) -> str:
    if entry is None:
        return "n/a"
    return f"{entry['auroc']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _gastro(data: dict[str, Any], folds: int, seed: int) -> str:
    models = data["models"]
    cheap = [m for m in models if "learned" in m]
    rows = [
        [
            f"`{m['model']}`",
            str(m["n"]),
            f"{m['accuracy']:.2f}",
            f"{m['mean_stated']:.2f}",
            _ci(m["stated"]),
            f"{m['stated_ece']:.3f}",
            _ci(m["learned"]),
            f"{m['learned_ece']:.3f}",
        ]
        for m in cheap
    ]
    aucs = [m["stated"]["auroc"] for m in models if m["stated"] is not None]
    above = sum(1 for m in models if m["stated"] is not None and m["stated"]["low"] > 0.5)
    header = ["cheap model", "n", "accuracy", "mean stated", "AUROC stated [95% CI]", "ECE stated"]
    header += [f"AUROC learned ({folds}-fold CV) [95% CI]", "ECE learned"]
    return (
        f"{_table(header, rows)}\n\n"
        f"Over all {len(models)} models of the data, the stated confidence's AUROC ranges from {min(aucs):.3f} to "
        f"{max(aucs):.3f} (median {sorted(aucs)[len(aucs) // 2]:.3f}); its DeLong 95% interval excludes 0.5 "
        f"for {above} of them. The `learned` signal sees only what a router would have at triage time: the "
        "stated confidence (no question text is in the data; other models' confidences and correctness are "
        "per-question facts a router does not have, so they are not used). A monotone map of one number cannot "
        "rank better than the number; its cross-validated AUROC can come out lower, because near chance the "
        "fitted slope changes sign between folds and the pooled out-of-fold scores then rank against each "
        "other. What it buys is "
        f"calibration (the ECE column). Logistic regression, stratified {folds}-fold, seed {seed}.\n\n"
        f"{data['attribution']}"
    )


def _gsm8k_signals(data: dict[str, Any], folds: int, seed: int) -> str:
    rows = [
        [s["signal"], s["kind"], str(len(s["features"])), _ci(s["auroc"]), f"{s['ece']:.3f}"] for s in data["signals"]
    ]
    top = " / ".join(_pct(v) for v in data["top_fcr"].values())
    diff = data.get("best_vs_length")
    diff_line = (
        ""
        if diff is None
        else f" Answer text + request against answer length alone: AUROC {diff['difference']:+.3f} (paired DeLong "
        f"p = {diff['p_value']:.2g})."
    )
    header = ["signal", "model", "features", f"AUROC ({folds}-fold CV) [95% CI]", "ECE"]
    return (
        f"`{data['cheap']}` (accuracy {data['cheap_accuracy']:.2f}) answers {data['rows']} GSM8K problems; "
        f"`{data['deep']}` gets {data['deep_accuracy']:.2f}. Features of the cheap answer's text and of the question "
        f"(`tiered.confidence.features`, no stated confidence in this data), out-of-fold scores from stratified "
        f"{folds}-fold cross-validation, seed {seed}:\n\n{_table(header, rows)}\n\n"
        f"AUROC intervals are DeLong's over the pooled out-of-fold scores.{diff_line} Where the gain is: shipping "
        f"only the best-scored 10% / 25% / 50% (answer text + request) would be wrong {top} of the time, against "
        f"{_pct(data['all_cheap_fcr'])} for all of them; the features find broken answers (no final answer, "
        "wrong arithmetic, long wandering text) far better than they certify good ones."
    )


def _gsm8k_guarantee(data: dict[str, Any], delta: float) -> str:
    rows = [
        [
            g["split"],
            g["method"],
            str(g["n"]),
            _pct(g["target"], 0),
            "yes" if g["met"] else "**no**",
            "n/a" if g["threshold"] is None else f"{g['threshold']:g}",
            _pct(g["ship_rate"]),
            _pct(g["false_confident"]),
            _pct(g["bound"]),
            _pct(g["savings"]),
            f"{100 * g['quality_vs_deep']:+.1f}",
        ]
        for g in data["guarantee"]
    ]
    header = [
        "split",
        "method",
        "n",
        "FCR target",
        "met",
        "threshold",
        "ships",
        "FCR",
        "FCR bound",
        "savings",
        "vs deep (pts)",
    ]
    return (
        "Savings at a false-confident target with a finite-sample guarantee (delta "
        f"{delta:g}): logistic regression on answer text + request, fitted on one stratified half (seeded split) "
        "and judged on the other, both ways round. *fixed-sequence* and *fallback* are `tiered backtest`'s "
        "procedures on the held-out half (`--fcr-procedure`; `tiered.offline.recommend` and `.recommend_fallback`: "
        "exact binomial tests on a fixed grid from the highest threshold down, the first stopping at its first "
        "failure, the second recycling its level to a later checkpoint; Clopper-Pearson bound). "
        "*select, then test* picks the threshold on the training "
        "half (out-of-fold scores, the most-shipping threshold whose Clopper-Pearson bound meets the target) and "
        "makes one exact test on the held-out half. Costs are modelled: tokens = characters / 4, the cheap call "
        "at Claude Haiku 4.5's list price ($1/$5 per MTok) and the deep call at Claude Opus 4.7's ($5/$25), as "
        "stand-ins for Mixtral and GPT-4; the learned signal adds no call. Without a signal the only choices are "
        "all-cheap (false-confident "
        f"rate {_pct(data['all_cheap_fcr'])}) or all-deep.\n\n{_table(header, rows)}"
    )


def render_markdown(results: dict[str, Any]) -> str:
    """The section body (no heading) for BENCHMARKS.md."""
    folds, seed = results["folds"], results["seed"]
    parts = [
        f"`{results['command']}` ({results['seconds']:.0f} s, Python {results['python']}). Issue #21's offline "
        "evidence: signals that cost no extra call, scored against recorded correctness on the shared data "
        "(`../shared/data`). AUROC 0.5 is chance; ECE is the count-weighted gap between stated and observed "
        "accuracy over ten bins."
    ]
    if results.get("gastro"):
        parts += ["### Stated confidence: gastroenterology board questions", _gastro(results["gastro"], folds, seed)]
    if results.get("gsm8k"):
        parts += [
            "### Answer-text features: GSM8K",
            _gsm8k_signals(results["gsm8k"], folds, seed),
            _gsm8k_guarantee(results["gsm8k"], results["delta"]),
            results["gsm8k"]["attribution"],
        ]
    return "\n\n".join(parts)


def section(results: dict[str, Any]) -> str:
    """The whole BENCHMARKS.md section, heading included."""
    return (
        f"{HEADING}\n\nRun by hand (issue #21); the results are kept in `bench/results/confidence_signals.json`. "
        'What they mean for routing: docs/quality.md, "When each confidence strategy pays for itself".\n\n'
        f"{render_markdown(results)}\n"
    )


def update_benchmarks(path: Path, text: str, marker: str) -> None:
    """Put ``text`` (a whole section) in ``path`` in place of the section with the same heading, or at the end;
    below ``marker``, which is added first when the file has none."""
    old = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    if marker not in old:
        old += f"\n{marker}\n"
    start = old.find(HEADING, old.index(marker))
    if start < 0:
        new = old + "\n" + text
    else:
        end = old.find("\n## ", start + len(HEADING))
        new = old[:start] + text + ("" if end < 0 else "\n" + old[end + 1 :])
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
