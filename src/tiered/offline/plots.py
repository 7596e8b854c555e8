"""The two pictures of a backtest, rendered to PNG bytes with matplotlib's Agg canvas (no pyplot state).

* the cost-quality frontier: accuracy against cost per call over the threshold grid, with the all-cheap,
  all-deep, seed, recommended and oracle points;
* the reliability diagram: accuracy against stated confidence per bin, the diagonal of perfect calibration,
  and the fitted isotonic map.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tiered.offline.backtest import BacktestResult
from tiered.offline.calibration import CalibrationReport

__all__ = ["frontier_png", "reliability_png"]

_DPI = 110


def frontier_png(result: BacktestResult) -> bytes:
    """The cost-quality frontier as PNG bytes."""
    fig = Figure(figsize=(7.5, 5.0), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    sw = result.sweep
    ax.plot(sw.cost_per_call, sw.accuracy, "-", color="#4c72b0", lw=1.6, label="threshold grid", zorder=1)
    ax.scatter(sw.cost_per_call, sw.accuracy, s=6, color="#4c72b0", zorder=2)
    marks = [
        (result.all_cheap, "s", "#8c8c8c", "all-cheap"),
        (result.all_deep, "D", "#222222", "all-deep"),
        (result.seed, "o", "#dd8452", f"seed ({result.seed.threshold:g})"),
        (result.oracle, "*", "#55a868", "oracle"),
    ]
    rec = result.recommendation
    if rec is not None and rec.met:
        marks.append((rec.point, "P", "#c44e52", f"recommended ({rec.point.threshold:g})"))
    for point, marker, color, label in marks:
        ax.scatter(
            [point.cost_per_call_usd],
            [point.accuracy],
            marker=marker,
            s=110,
            color=color,
            edgecolor="white",
            linewidth=0.8,
            label=label,
            zorder=3,
        )
    ax.set_xlabel("cost per call (USD)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Cost-quality frontier ({result.n:,} queries)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return _png(fig)


def reliability_png(report: CalibrationReport) -> bytes:
    """The reliability diagram of tier ``report.tier`` as PNG bytes."""
    fig = Figure(figsize=(6.0, 6.2), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax, hist = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lo, hi = report.scale
    span = hi - lo if hi > lo else 1.0
    conf = np.asarray([b.mean_confidence for b in report.bins])
    acc = np.asarray([b.accuracy for b in report.bins])
    count = np.asarray([b.count for b in report.bins], dtype=np.float64)
    ax.plot([0, 1], [0, 1], "--", color="#999999", lw=1, label="perfect calibration")
    ax.scatter(conf, acc, s=30 + 300 * count / count.max(), color="#4c72b0", alpha=0.8, label="bins")
    ax.plot(conf, acc, "-", color="#4c72b0", lw=1)
    grid = np.linspace(lo, hi, 201)
    fitted = np.interp(grid, np.asarray(report.fitted.x), np.asarray(report.fitted.y))
    ax.plot((grid - lo) / span, fitted, "-", color="#c44e52", lw=1.6, label="isotonic map")
    auroc = "n/a" if report.auroc is None else f"{report.auroc:.3f}"
    ax.set_title(f"Reliability of tier {report.tier} (AUROC {auroc}, ECE {report.ece:.3f}, n={report.n:,})")
    ax.set_ylabel("accuracy")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    hist.bar(conf, count, width=0.02, color="#8c8c8c")
    hist.set_xlabel(f"stated confidence (scale {lo:g}-{hi:g}, shown on 0-1)")
    hist.set_ylabel("queries")
    hist.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
