"""Calibration metrics, the isotonic fit, and the pure-Python map the router loads."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from tests.offline.offline_synth import continuous, discrete

from tiered.errors import ConfigError
from tiered.offline.calibration import (
    apply_calibration,
    auroc,
    calibration_report,
    fit_isotonic,
    reliability,
)
from tiered.offline.calibration_map import Calibration, load_calibration, save_calibration

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_auroc_matches_mann_whitney() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 11, size=500).astype(float)  # many ties
    labels = rng.uniform(size=500) < scores / 12
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert auroc(scores, labels) == pytest.approx(u / (labels.sum() * (~labels).sum()))
    assert auroc(scores, np.ones(500, dtype=bool)) is None


def test_reliability_and_ece() -> None:
    scores = np.array([8.0, 8, 9, 9, 9, 10])
    labels = np.array([True, False, True, True, False, True])
    bins = reliability(scores, labels, (0.0, 10.0), bins=10)
    assert [(b.lo, b.count, b.mean_confidence, b.accuracy) for b in bins] == [
        (8.0, 2, 0.8, 0.5),
        (9.0, 3, 0.9, pytest.approx(2 / 3)),
        (10.0, 1, 1.0, 1.0),
    ]
    many = np.linspace(0, 1, 1000)
    wide = reliability(many, many > 0.5, (0.0, 1.0), bins=4)
    assert [b.count for b in wide] == [250, 250, 250, 250]


def test_report_on_a_calibrated_model_has_small_ece() -> None:
    # Continuous model: P(right | x) = 0.3 + 0.7x, so the stated x is overconfident below 1, not wildly.
    report = calibration_report(continuous(20_000, 0), (0.0, 1.0))
    assert report is not None
    assert report.auroc is not None and 0.6 < report.auroc < 0.8
    expected_ece = float(np.mean(np.abs(0.3 - 0.3 * np.linspace(0, 1, 10_001))))  # |x - (0.3 + 0.7x)|
    assert report.ece == pytest.approx(expected_ece, abs=0.02)
    # The isotonic map recovers the true curve.
    for x in (0.2, 0.5, 0.9):
        assert report.fitted(x) == pytest.approx(0.3 + 0.7 * x, abs=0.06)


def test_isotonic_fit_is_monotone_and_compressed_without_changing_the_map() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(size=3000)
    labels = rng.uniform(size=3000) < 0.2 + 0.6 * scores
    fitted = fit_isotonic(scores, labels, source="s", model="m", tier=0, scale=(0.0, 1.0))
    assert all(b >= a for a, b in zip(fitted.y, fitted.y[1:], strict=False))
    assert len(fitted.x) < 3000
    # The compressed map equals interpolation through every distinct score's fitted value.
    from scipy.optimize import isotonic_regression

    order = np.argsort(scores)
    full = isotonic_regression(labels[order].astype(float)).x
    probe = rng.uniform(size=200)
    np.testing.assert_allclose([fitted(p) for p in probe], np.interp(probe, scores[order], full), atol=1e-9)
    assert fitted.n == 3000 and fitted.model == "m" and fitted.fitted_at


def test_vectorised_apply_matches_pure_map() -> None:
    outcomes = discrete(500, np.random.default_rng(3))
    report = calibration_report(outcomes, (0.0, 10.0))
    assert report is not None
    mapped = apply_calibration(outcomes, report.fitted)
    for q in range(50):
        assert mapped.confidence[q, 0] == pytest.approx(report.fitted(float(outcomes.confidence[q, 0])))
    with pytest.raises(ValueError, match="tier 3"):
        apply_calibration(outcomes, Calibration(x=(0.0,), y=(0.5,), tier=3))


def test_pure_map_interpolates_and_is_flat_outside() -> None:
    cal = Calibration(x=(2.0, 4.0, 8.0), y=(0.1, 0.5, 0.9))
    assert cal(0.0) == 0.1 and cal(2.0) == 0.1
    assert cal(3.0) == pytest.approx(0.3)
    assert cal(6.0) == pytest.approx(0.7)
    assert cal(8.0) == 0.9 and cal(100.0) == 0.9
    assert cal(math.nan) == 0.1


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    cal = Calibration(
        x=(0.0, 1.0),
        y=(0.2, 0.8),
        source="f.csv",
        n=10,
        fitted_at="2025-01-01T00:00:00+00:00",
        model="claude-haiku-4-5",
        scale=(0.0, 1.0),
    )
    path = tmp_path / "cal.json"
    save_calibration(cal, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "tiered-calibration" and doc["version"] == 1 and doc["x"] == [0.0, 1.0]
    assert load_calibration(path) == cal


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": "other"}, "not a tiered calibration file"),
        ({"format": "tiered-calibration", "version": 2, "x": [0], "y": [0]}, "version 2"),
        ({"format": "tiered-calibration", "version": 1, "x": "no", "y": [0]}, "lists of numbers"),
        ({"format": "tiered-calibration", "version": 1, "x": [0, 0], "y": [0, 1]}, "strictly increasing"),
        ({"format": "tiered-calibration", "version": 1, "x": [0, 1], "y": [1, 0]}, "non-decreasing"),
        ({"format": "tiered-calibration", "version": 1, "x": [0, 1], "y": [0, 2]}, r"in \[0, 1\]"),
        ({"format": "tiered-calibration", "version": 1, "x": [], "y": []}, "at least one knot"),
    ],
)
def test_bad_calibration_files(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=message):
        load_calibration(path)


def test_unreadable_calibration_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_calibration(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_calibration(bad)


def test_router_side_imports_stay_light() -> None:
    """The map and the CLI command must load without numpy, scipy or matplotlib."""
    code = (
        "import sys\n"
        "import tiered.offline.calibration_map, tiered.offline.commands, tiered.offline\n"
        "heavy = [m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": SRC}, timeout=60)
