"""Confidence signals beyond the cheap tier's bare self-report (issue #21).

:mod:`tiered.confidence.features` (pure, standard library only) turns what is known once the cheap tier has
answered into features that cost no extra call, and :mod:`tiered.confidence.linear` scores them with a
fitted logistic model exported as plain numbers; they are all this package imports (no numpy). The
``learned`` model over those features, its cross-validation and its held-out metrics (AUROC with DeLong
intervals, ECE) need the ``tiered[eval]`` extra (numpy, scipy, scikit-learn) and are imported from their
modules: :mod:`tiered.confidence.learned` and :mod:`tiered.confidence.metrics`.
"""

from tiered.confidence.features import FEATURE_NAMES, REQUEST_KINDS, SignalInput, features
from tiered.confidence.linear import LinearConfidence

__all__ = ["FEATURE_NAMES", "REQUEST_KINDS", "LinearConfidence", "SignalInput", "features"]
