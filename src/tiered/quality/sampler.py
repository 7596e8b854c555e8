"""Audit sampling: which shipped answers are picked for grading.

The pick is a pure function of the decision id (a keyed BLAKE2b hash mapped to ``[0, 1)``, compared with the
inclusion probability), so it is reproducible: a replay, another replica or an offline check all agree on
which decisions were audited. Only shipped answers (a triage answer was returned) are candidates: they are
what the false-confident rate is about.

The inclusion probability is the route's ``audit_rate``, or, with ``audit_strata``, the rate of the first
stratum the answer falls in, by how far its score (the calibrated confidence the threshold judged) cleared its
threshold (answers near the threshold are the informative ones). Each pick carries the inverse of its
probability relative to the base rate as its ``weight``, recorded on its grades, so that the weighted
false-confident rate stays unbiased (Hajek).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tiered.decision import Outcome

if TYPE_CHECKING:
    from tiered.config import RouteSettings, Settings
    from tiered.decision import Decision

__all__ = ["AuditPick", "AuditSampler", "audit_draw", "inclusion_probability", "is_shipped"]

SamplerKind = Literal["uniform", "stratified"]
_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class AuditPick:
    """A decision picked for audit."""

    decision_id: str
    route: str
    probability: float
    sampler: SamplerKind
    weight: float  # recorded on the grades: audit_rate / probability (1 for a uniform sample)


def audit_draw(decision_id: str, salt: str = "") -> float:
    """A uniform number in ``[0, 1)`` determined by the decision id (and an optional salt)."""
    digest = hashlib.blake2b(decision_id.encode(), digest_size=8, person=b"tiered-audit", salt=salt.encode()[:16])
    return int.from_bytes(digest.digest(), "big") / _SCALE


def is_shipped(decision: Decision) -> bool:
    return decision.error is None and any(a.outcome is Outcome.SHIPPED for a in decision.attempts)


def inclusion_probability(route: RouteSettings, decision: Decision) -> tuple[float, SamplerKind]:
    """The probability that ``decision`` (a shipped answer of ``route``) is audited, and by which sampler."""
    # the margin is on the scale the threshold judged: the calibrated score; rows recorded before decisions
    # carried it have only the raw confidence (then the same figure, or the only one there is)
    judged = decision.score if decision.score is not None else decision.confidence
    if route.audit_strata and judged is not None and decision.threshold is not None:
        margin = judged - decision.threshold
        for stratum in sorted(route.audit_strata, key=lambda s: s.margin):
            if margin <= stratum.margin:
                return stratum.rate, "stratified"
    return route.audit_rate, "uniform"


def pick_weight(route: RouteSettings, probability: float) -> float:
    """The grade weight of a sample audited with ``probability``: relative to the route's base rate."""
    if probability <= 0 or route.audit_rate <= 0:
        return 1.0
    return route.audit_rate / probability


class AuditSampler:
    """Picks audit samples for the routes in ``settings``; cheap enough to run on the request path."""

    def __init__(self, settings: Settings, *, salt: str = "") -> None:
        self._settings = settings
        self._salt = salt
        # the last decision asked about and its pick: the store and the quality loop both ask, in turn
        self._last: tuple[Decision, AuditPick | None] | None = None

    def pick(self, decision: Decision) -> AuditPick | None:
        """The audit pick for ``decision``, or ``None`` when it is not audited."""
        last = self._last
        if last is not None and last[0] is decision:
            return last[1]
        picked = self._pick(decision)
        self._last = (decision, picked)
        return picked

    def _pick(self, decision: Decision) -> AuditPick | None:
        route = self._settings.routes.get(decision.route)
        if route is None or decision.passthrough or not is_shipped(decision):
            return None
        probability, kind = inclusion_probability(route, decision)
        if probability <= 0 or audit_draw(decision.id, self._salt) >= probability:
            return None
        return AuditPick(decision.id, decision.route, probability, kind, pick_weight(route, probability))
