"""bench/confidence_signals.py on the shared data when it is there, and its BENCHMARKS.md section."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from bench.confidence_report import HEADING, render_markdown, section, update_benchmarks

from bench import confidence_signals

DATA = confidence_signals.find_data(None)
GASTRO = None if DATA is None else DATA / "verbalized-confidence-gastro"
needs_data = pytest.mark.skipif(
    DATA is None or GASTRO is None or not (DATA / "routellm-evals" / "gsm8k_responses.csv").is_file(),
    reason="shared data (gastro and routellm-evals) not found beside the checkout",
)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    assert DATA is not None
    return confidence_signals.run(DATA, folds=5, seed=0)


@needs_data
def test_stated_auroc_matches_the_authors_own_figures(results: dict[str, Any]) -> None:
    """Our AUROC of each model's stated confidence is the ROC_AUC the data's authors published."""
    assert GASTRO is not None
    with (GASTRO / "model_performance_results_new.csv").open(encoding="utf-8", newline="") as handle:
        published = {row["Model"]: row for row in csv.DictReader(handle) if row["ROC_AUC"]}
    models = {m["model"]: m for m in results["gastro"]["models"]}
    assert len(models) == 48 and len(published) > 40
    for name, row in published.items():
        assert models[name]["stated"]["auroc"] == pytest.approx(float(row["ROC_AUC"]), abs=1e-9), name
    haiku = models["ClaudeHiakuWeb-raw"]
    assert haiku["stated"]["low"] < 0.5 < haiku["stated"]["high"]  # no better than chance
    assert haiku["learned_ece"] < haiku["stated_ece"] / 3  # what learning one number buys: calibration


@needs_data
def test_gsm8k_text_features_rank_correctness(results: dict[str, Any]) -> None:
    gsm8k = results["gsm8k"]
    assert gsm8k["rows"] == 1319 and gsm8k["cheap_accuracy"] == pytest.approx(0.64, abs=0.01)
    signals = {s["signal"]: s for s in gsm8k["signals"]}
    best = signals["answer text + request"]["auroc"]
    assert best["low"] > 0.65 > signals["answer length alone"]["auroc"]["high"]
    assert gsm8k["best_vs_length"]["p_value"] < 1e-6
    assert all(rate < gsm8k["all_cheap_fcr"] for rate in gsm8k["top_fcr"].values())
    rows = gsm8k["guarantee"]
    assert len(rows) == 2 * 3 * len(confidence_signals.FCR_TARGETS)
    for row in rows:  # a met target is kept by the bound it was certified with
        if row["met"]:
            assert row["bound"] <= row["target"] and row["false_confident"] <= row["target"]


@needs_data
def test_the_section_renders(results: dict[str, Any]) -> None:
    text = render_markdown(results)
    assert "| `ClaudeHiakuWeb-raw` | 300 | 0.50 | 0.88 | 0.523 [" in text
    assert "arXiv:2503.18562" in text and "RouteLLM" in text  # the data's attribution travels with it
    assert "seed 0" in text and "5-fold" in text
    assert section(results).startswith(f"{HEADING}\n\nRun by hand")


def test_absent_data_is_skipped_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert confidence_signals.main(["--data", str(tmp_path / "missing")]) == 0
    assert "shared data not found" in capsys.readouterr().out
    # a folder without the two data sets evaluates nothing and still renders
    empty = confidence_signals.run(tmp_path, folds=5, seed=0)
    assert empty["gastro"] is None and empty["gsm8k"] is None
    assert render_markdown(empty).startswith("`.venv/bin/python bench/confidence_signals.py --write`")


def test_the_section_replaces_itself_below_the_hand_run_marker(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\n## Generated\n\ntext\n")
    update_benchmarks(report, f"{HEADING}\n\nfirst\n", "<!-- marker -->")
    assert report.read_text() == f"# Benchmarks\n\n## Generated\n\ntext\n\n<!-- marker -->\n\n{HEADING}\n\nfirst\n"
    # another hand-run section after it stays, and a second run replaces the first's text
    report.write_text(report.read_text() + "\n## Other hand-run\n\nkept\n")
    update_benchmarks(report, f"{HEADING}\n\nsecond\n", "<!-- marker -->")
    text = report.read_text()
    assert "first" not in text and text.count(HEADING) == 1 and text.count("<!-- marker -->") == 1
    assert text.endswith(f"<!-- marker -->\n\n{HEADING}\n\nsecond\n\n## Other hand-run\n\nkept\n")
    # a heading of the same name above the marker (generated) is not touched
    report.write_text(f"{HEADING}\n\ngenerated\n\n<!-- marker -->\n")
    update_benchmarks(report, f"{HEADING}\n\nhand\n", "<!-- marker -->")
    assert report.read_text() == f"{HEADING}\n\ngenerated\n\n<!-- marker -->\n\n{HEADING}\n\nhand\n"
