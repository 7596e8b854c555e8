"""A fitted logistic ``learned`` confidence as plain numbers, scored in pure Python.

The live strategy must not import scikit-learn (or numpy) on the hot path, and a model version must be a
record that can be stored, shown and compared. :meth:`LearnedConfidence.export
<tiered.confidence.learned.LearnedConfidence.export>` turns a fitted logistic model into this frozen
record: per-feature standardisation, coefficients and intercept, named by :data:`FEATURE_NAMES
<tiered.confidence.features.FEATURE_NAMES>` order. Calling it on a feature tuple gives P(right).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LinearConfidence"]


@dataclass(frozen=True, slots=True)
class LinearConfidence:
    """``P(right) = sigmoid(intercept + sum(coef_i * (x_i - mean_i) / scale_i))`` over the named features."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        sizes = {len(self.names), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1:
            raise ValueError("a linear confidence needs one mean, scale and coefficient per feature name")
        if any(not s > 0 for s in self.scale):
            raise ValueError("feature scales must be positive")

    def __call__(self, features: Sequence[float]) -> float:
        if len(features) != len(self.names):
            raise ValueError(f"expected {len(self.names)} features ({', '.join(self.names)}), got {len(features)}")
        z = self.intercept + sum(
            c * (x - m) / s for c, x, m, s in zip(self.coef, features, self.mean, self.scale, strict=True)
        )
        # the two branches keep exp() from overflowing for large |z|
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearConfidence:
        if data.get("kind") != "logistic":
            raise ValueError(f"not a logistic confidence model (kind {data.get('kind')!r})")
        return cls(
            names=tuple(str(n) for n in data["names"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
        )
