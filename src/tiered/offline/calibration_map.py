"""A fitted recalibration map that a route loads to turn a raw confidence into a probability.

The router compares ``calibration(confidence)`` with the threshold instead of the raw number. This module is
loaded on the routing path, so it is pure Python (``bisect`` and linear interpolation) and imports nothing
heavy; fitting the map lives in :mod:`tiered.offline.calibration`, which needs ``tiered[eval]``.

The file is JSON::

    {"format": "tiered-calibration", "version": 1, "method": "isotonic",
     "x": [...], "y": [...],            # knots: raw confidence -> probability of being right
     "source": "outcomes.csv", "n": 300, "fitted_at": "2025-...", "model": "claude-haiku-4-5",
     "tier": 0, "scale": [0.0, 1.0]}

Between knots the map is linear; below the first knot and above the last it is flat.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tiered.errors import ConfigError

__all__ = ["CALIBRATION_FORMAT", "Calibration", "load_calibration", "save_calibration"]

CALIBRATION_FORMAT: Final = "tiered-calibration"
_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Calibration:
    """A monotone map from a raw confidence to a calibrated probability of being right.

    ``x`` is strictly increasing and ``y`` non-decreasing, both the same length (at least one knot).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str = "isotonic"
    source: str | None = None
    n: int | None = None
    fitted_at: str | None = None
    model: str | None = None
    tier: int = 0
    scale: tuple[float, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.x or len(self.x) != len(self.y):
            raise ConfigError(
                "A calibration map needs as many probabilities (y) as knots (x), and at least one knot; "
                "refit it with `tiered backtest FILE --fit-calibration OUT.json`."
            )
        if any(not math.isfinite(v) for v in (*self.x, *self.y)):
            raise ConfigError("A calibration map holds a non-finite knot; refit it.")
        if any(b <= a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ConfigError("Calibration knots (x) must be strictly increasing; refit the map.")
        if any(b < a for a, b in zip(self.y, self.y[1:], strict=False)):
            raise ConfigError("Calibrated probabilities (y) must be non-decreasing; refit the map.")
        if any(not 0.0 <= v <= 1.0 for v in self.y):
            raise ConfigError("Calibrated probabilities (y) must lie in [0, 1]; refit the map.")

    def __call__(self, confidence: float) -> float:
        """The calibrated probability for a raw ``confidence`` (NaN maps to the lowest probability)."""
        xs, ys = self.x, self.y
        if math.isnan(confidence) or confidence <= xs[0]:
            return ys[0]
        if confidence >= xs[-1]:
            return ys[-1]
        hi = bisect_right(xs, confidence)
        lo = hi - 1
        span = xs[hi] - xs[lo]
        return ys[lo] + (ys[hi] - ys[lo]) * (confidence - xs[lo]) / span

    def to_dict(self) -> dict[str, Any]:
        """The JSON document that :func:`load_calibration` reads back."""
        return {
            "format": CALIBRATION_FORMAT,
            "version": _VERSION,
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "source": self.source,
            "n": self.n,
            "fitted_at": self.fitted_at,
            "model": self.model,
            "tier": self.tier,
            "scale": list(self.scale) if self.scale is not None else None,
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, origin: str = "calibration") -> Calibration:
        """Validate a parsed calibration document; ``origin`` names it in error messages."""
        if doc.get("format") != CALIBRATION_FORMAT:
            raise ConfigError(
                f"{origin} is not a tiered calibration file (format should be {CALIBRATION_FORMAT!r}); "
                "create one with `tiered backtest FILE --fit-calibration OUT.json`."
            )
        if doc.get("version") != _VERSION:
            raise ConfigError(
                f"{origin} has calibration format version {doc.get('version')!r}; this tiered reads "
                f"version {_VERSION}. Refit the map with this version of tiered."
            )
        x, y = doc.get("x"), doc.get("y")
        if not isinstance(x, list) or not isinstance(y, list) or not _is_numbers(x) or not _is_numbers(y):
            raise ConfigError(f"{origin}: 'x' and 'y' must be lists of numbers; refit the map.")
        scale = doc.get("scale")
        if not (isinstance(scale, list) and len(scale) == 2 and _is_numbers(scale)):
            scale = None
        extra = doc.get("extra")
        n = doc.get("n")
        tier = doc.get("tier", 0)
        try:
            return cls(
                x=tuple(float(v) for v in x),
                y=tuple(float(v) for v in y),
                method=str(doc.get("method", "isotonic")),
                source=_opt_str(doc.get("source")),
                n=n if isinstance(n, int) else None,
                fitted_at=_opt_str(doc.get("fitted_at")),
                model=_opt_str(doc.get("model")),
                tier=tier if isinstance(tier, int) else 0,
                scale=(float(scale[0]), float(scale[1])) if scale is not None else None,
                extra=dict(extra) if isinstance(extra, dict) else {},
            )
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc.message}") from exc


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration map written by ``tiered backtest --fit-calibration``."""
    origin = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the calibration file {origin}: {exc.strerror or exc}. Check the `calibration` "
            "path of the route."
        ) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin} is not valid JSON ({exc.msg} at line {exc.lineno}); refit the map.") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{origin} must hold a JSON object; refit the map.")
    return Calibration.from_dict(doc, origin=origin)


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` as JSON to ``path`` (overwriting it)."""
    Path(path).write_text(json.dumps(calibration.to_dict(), indent=2) + "\n", encoding="utf-8")


def _is_numbers(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
