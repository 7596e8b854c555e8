"""Recording a verdict from a person, an application or the judge: one path, with the sample's weight.

Every grade goes through :func:`tiered.store.grades.record_grade`; this adds the weight (a stratified audit
sample's relative inverse inclusion probability, else 1) and the limits the public endpoint enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tiered.errors import InvalidRequestError
from tiered.store.schema import GraderKind, GradeVerdict

from .samples import sample_weight

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.store.grades import GradeRecord

__all__ = ["MAX_REASON_CHARS", "GradeInput", "grade_decision", "parse_grade_body"]

MAX_REASON_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class GradeInput:
    """A validated grade request body: ``{"verdict", "reason"?, "grader_kind"?}``."""

    verdict: GradeVerdict
    reason: str | None
    grader_kind: GraderKind


def parse_grade_body(body: dict[str, Any]) -> GradeInput:
    """Validate the body of ``POST /v1/tiered/decisions/{id}/grade``. Raises InvalidRequestError."""
    allowed = ", ".join(v.value for v in GradeVerdict)
    verdict = body.get("verdict")
    if not isinstance(verdict, str):
        raise InvalidRequestError(f"verdict: field required, one of {allowed}")
    try:
        checked = GradeVerdict(verdict)
    except ValueError:
        raise InvalidRequestError(f"verdict: must be one of {allowed}, got {verdict!r}") from None
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidRequestError("reason: must be a string")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise InvalidRequestError(f"reason: at most {MAX_REASON_CHARS} characters")
    kind = body.get("grader_kind", GraderKind.APP.value)
    if kind not in (GraderKind.APP.value, GraderKind.HUMAN.value):
        raise InvalidRequestError("grader_kind: must be 'app' (the default) or 'human'")
    unknown = set(body) - {"verdict", "reason", "grader_kind"}
    if unknown:
        raise InvalidRequestError(f"{sorted(unknown)[0]}: unknown field; send verdict, reason and grader_kind")
    return GradeInput(checked, reason or None, GraderKind(kind))


def grade_decision(
    engine: Engine,
    settings: Settings,
    decision_id: str,
    verdict: GradeVerdict | str,
    grader_kind: GraderKind | str,
    *,
    grader: str | None = None,
    reason: str | None = None,
    cost_usd: float | None = None,
    weight: float | None = None,
) -> GradeRecord:
    """Record a verdict on ``decision_id``; ``weight`` defaults to the audit sample's (see module doc).
    Raises NotFoundError for an unknown decision, InvalidRequestError for a bad verdict."""
    from tiered.store.grades import record_grade

    if weight is None:
        weight = sample_weight(engine, settings, decision_id)
    return record_grade(
        engine,
        decision_id,
        verdict,
        grader_kind,
        grader=grader,
        reason=reason,
        weight=weight,
        cost_usd=cost_usd,
    )
