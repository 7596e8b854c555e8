"""The ``learned`` confidence's model file: a fitted logistic model as plain JSON numbers, with its version.

``tiered confidence train --out FILE`` writes it when a version is promoted; a route's ``confidence_model``
names it and the proxy loads it once (standard library only: the live proxy never needs scikit-learn)::

    {"format": "tiered-confidence-model", "v": 1, "version": 3, "route": "default", "tier": 0,
     "model": {"kind": "logistic", "names": [...], "mean": [...], "scale": [...], "coef": [...],
               "intercept": -0.4},
     "metrics": {"auroc": 0.71, "ece": 0.04, ...}}

The model's feature names must be :data:`tiered.confidence.features.FEATURE_NAMES` in order: a file written
for another feature set is refused rather than scored with shifted columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .features import FEATURE_NAMES
from .linear import LinearConfidence
from .strategy import Learned

__all__ = ["FORMAT", "ModelFile", "load_learned", "read_model_file", "write_model_file"]

FORMAT: Final = "tiered-confidence-model"
_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class ModelFile:
    version: int
    model: LinearConfidence
    route: str | None = None
    tier: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "v": _VERSION,
            "version": self.version,
            "route": self.route,
            "tier": self.tier,
            "model": self.model.to_dict(),
            "metrics": dict(self.metrics),
        }


def parse_model_file(data: Any) -> ModelFile:
    """Read a model file's JSON document; ``ValueError`` saying what is wrong with it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if data.get("v") != _VERSION:
        raise ValueError(f"unsupported model file version {data.get('v')!r} (this tiered reads {_VERSION})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("the model file's version must be a positive integer")
    model_data = data.get("model")
    if not isinstance(model_data, dict):
        raise ValueError("the model file has no model object")
    try:
        model = LinearConfidence.from_dict(model_data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the model is incomplete: {exc}") from exc
    if model.names != FEATURE_NAMES:
        raise ValueError("the model was fitted on other features than this tiered computes; retrain it")
    metrics = data.get("metrics")
    route, tier = data.get("route"), data.get("tier", 0)
    return ModelFile(
        version=version,
        model=model,
        route=route if isinstance(route, str) else None,
        tier=tier if isinstance(tier, int) else 0,
        metrics=metrics if isinstance(metrics, dict) else {},
    )


def read_model_file(path: Path) -> ModelFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return parse_model_file(data)


def write_model_file(path: Path, model_file: ModelFile) -> None:
    """Write atomically (a proxy reading the file never sees half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(model_file.to_dict(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_learned(path: Path, version: int | None = None) -> Learned:
    """The live ``learned`` strategy from ``path``; ``ValueError`` if it cannot be read or is not ``version``."""
    model_file = read_model_file(path)
    if version is not None and model_file.version != version:
        raise ValueError(f"{path} holds version {model_file.version}, the route pins version {version}")
    return Learned(model_file.model, model_file.version)
