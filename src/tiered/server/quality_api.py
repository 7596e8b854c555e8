"""The quality loop's endpoints: ``GET /metrics``, ``POST`` and ``DELETE /v1/tiered/decisions/{id}/grade`` and
``GET /v1/tiered/quality``.

* ``/metrics`` is the Prometheus exposition of this replica (no authentication, as scrapers expect; it
  carries counts and rates, never content or key ids).
* ``grade`` records a verdict on a decision for the key that made the request, or an admin: the thumbs up or
  down of an application (``grader_kind`` ``app``, the default) or of a person (``human``). Body:
  ``{"verdict": "correct" | "incorrect" | "unsure", "reason": "...", "grader_kind": "app" | "human"}``.
* ``DELETE .../grade`` takes back the newest grade the caller gave on the decision (``app`` or ``human``, never
  the judge's): ``{"undone": <the grade as POST returned it>, "remaining_grades": n}``, or 404
  ``not_found_error`` when there is none. An audit sample left without grades waits for a verdict again.
* ``quality`` (admin) returns each route's false-confident summary, threshold in force and recent changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import TieredError
from .common import decision_not_found, read_json, services
from .errors import anthropic_error_response

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

    from ..quality.loop import QualityLoop
    from ..store.grades import GradeRecord

__all__ = ["keep_quality", "quality_routes"]

MAX_GRADE_BODY = 64 * 1024


def keep_quality(app: Starlette) -> Callable[[QualityLoop], None]:
    """The ``on_quality`` hook of :func:`tiered.server.runtime.open_services`: keeps the loop on the app."""

    def keep(quality: QualityLoop) -> None:
        app.state.quality = quality

    return keep


def _quality(request: Request) -> QualityLoop | None:
    return getattr(request.app.state, "quality", None)


async def metrics(request: Request) -> Response:
    quality = _quality(request)
    if quality is None:
        return Response("the proxy is starting\n", status_code=503, media_type="text/plain")
    body, content_type = quality.metrics.render()
    return Response(body, media_type=content_type)


@dataclass(frozen=True, slots=True)
class _Grading:
    engine: Engine
    decision_id: str
    route: Any
    grader: str | None


async def _grading(svc: Any, request: Request) -> _Grading:
    """Who grades which decision, when the caller may (its key's owner, or an admin)."""
    principal = await svc.auth.authenticate(request.headers)
    decision_id = request.path_params["decision_id"]
    engine = svc.engine
    if engine is None:
        raise TieredError("grading needs the decision store; run the proxy with a database")
    found = svc.recent.get(decision_id)
    owner: Any = found.key_id if found is not None else None
    route: Any = found.route if found is not None else None
    if found is None:
        data = await svc.lookup(decision_id) if svc.lookup is not None else None
        if data is None:
            raise decision_not_found(decision_id, "it may not be written yet")
        owner, route = data.get("key_id"), data.get("route")
    if not (principal.admin or owner == principal.key_id):
        # the same answer for "absent" and "not yours"
        raise decision_not_found(decision_id, "it may not be written yet")
    return _Grading(engine, decision_id, route, principal.key_id or ("admin" if principal.admin else None))


def _grade_json(record: GradeRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "decision_id": record.decision_id,
        "verdict": record.verdict.value,
        "grader_kind": record.grader_kind.value,
        "reason": record.reason,
        "weight": record.weight,
        "created_at": record.created_at.isoformat(),
    }


async def grade(request: Request) -> Response:
    """Record a verdict on a decision (its key's owner or an admin)."""
    from ..quality.grading import grade_decision, parse_grade_body

    svc = services(request)
    try:
        quality = _quality(request)
        if quality is None:
            raise TieredError("grading needs the decision store; run the proxy with a database")
        who = await _grading(svc, request)
        body = parse_grade_body(await read_json(request, MAX_GRADE_BODY))
        route = who.route
        record = await anyio.to_thread.run_sync(
            lambda: grade_decision(
                who.engine,
                svc.settings,
                who.decision_id,
                body.verdict,
                body.grader_kind,
                grader=who.grader,
                reason=body.reason,
            )
        )
        quality.metrics.observe_grade(str(route or ""), record.verdict.value, record.grader_kind.value)
        return JSONResponse(_grade_json(record), status_code=201)
    except TieredError as exc:
        return anthropic_error_response(exc)


async def undo_grade(request: Request) -> Response:
    """Take back the newest grade the caller gave on a decision (an app's or a person's, never the judge's)."""
    from ..store.grades import undo_grade as undo
    from ..store.schema import GraderKind

    svc = services(request)
    try:
        who = await _grading(svc, request)
        record, left = await anyio.to_thread.run_sync(
            lambda: undo(who.engine, who.decision_id, kinds=(GraderKind.APP, GraderKind.HUMAN), grader=who.grader)
        )
        return JSONResponse({"undone": _grade_json(record), "remaining_grades": left})
    except TieredError as exc:
        return anthropic_error_response(exc)


async def quality_summary(request: Request) -> Response:
    """Per route: the false-confident summary, the threshold in force and the latest changes (admin only)."""
    from ..quality.stats import route_summary
    from ..quality.thresholds import history

    svc = services(request)
    try:
        principal = await svc.auth.authenticate(request.headers)
        principal.require_admin()
        engine = svc.engine
        if engine is None:
            raise TieredError("the quality summary needs the decision store; run the proxy with a database")

        def build() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name in svc.settings.routes:
                out[name] = {
                    "threshold": svc.router.route_settings(name).threshold,
                    "configured_threshold": svc.settings.route(name).threshold,
                    "false_confident": route_summary(engine, svc.settings, name).to_dict(),
                    "changes": [
                        {
                            "old": c.old_threshold,
                            "new": c.new_threshold,
                            "reason": c.reason,
                            "created_at": c.created_at.isoformat() if c.created_at else None,
                        }
                        for c in history(engine, name, limit=10)
                    ],
                }
            return out

        return JSONResponse({"routes": await anyio.to_thread.run_sync(build)})
    except TieredError as exc:
        return anthropic_error_response(exc)


def quality_routes() -> list[Route]:
    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/tiered/decisions/{decision_id}/grade", grade, methods=["POST"]),
        Route("/v1/tiered/decisions/{decision_id}/grade", undo_grade, methods=["DELETE"]),
        Route("/v1/tiered/quality", quality_summary, methods=["GET"]),
    ]
