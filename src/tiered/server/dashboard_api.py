"""The dashboard: its page (``GET /dashboard``) and the JSON endpoints behind it (``/v1/tiered/dashboard/...``).

Who may look (the page itself is static and holds no data; every figure comes from these endpoints, which take
the key as ``x-api-key`` like any other call):

- **keys mode**: an admin key (``tiered keys create NAME --admin``, or ``server.admin_key``) sees every route
  and key; any other key gets 403.
- **pass-through mode** with ``server.admin_key`` set: only that key.
- **pass-through mode** without it: any client key, which then sees the decisions made with that same key only
  (route-wide panels, the threshold history, alerts and the false-confident rate, are shown as they are: they
  describe the route, not anyone's traffic). Grading needs an admin in every mode, since grades move the
  route's threshold for everyone.

The endpoints are documented in ``docs/dashboard.md``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import InvalidRequestError, NotFoundError, PermissionDeniedError, TieredError
from .common import read_json, services
from .errors import anthropic_error_response

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..dashboard.queries import Scope
    from ..dashboard.window import Window
    from .common import Services

__all__ = ["StoreUnavailableError", "Viewer", "dashboard_routes", "viewer"]

_REFRESH_S: Final = 5
_MAX_LIMIT: Final = 500
_GRADE_BODY_LIMIT: Final = 64 * 1024
_ROUTE: Final = re.compile(r"^[\w.:/-]{1,200}$")


class StoreUnavailableError(TieredError):
    status = 503
    error_type = "api_error"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: ``key_id`` limits what they see to one key's decisions (``None``: everything)."""

    admin: bool
    key_id: str | None
    grader: str | None


async def viewer(svc: Services, request: Request) -> Viewer:
    principal = await svc.auth.authenticate(request.headers)
    if principal.admin:
        return Viewer(admin=True, key_id=None, grader=principal.key_id)
    if svc.auth.mode == "keys":
        raise PermissionDeniedError(
            "the dashboard needs an admin key: create one with `tiered keys create NAME --admin`"
        )
    if svc.settings.server.admin_key is not None:
        raise PermissionDeniedError("the dashboard needs this proxy's admin key (server.admin_key)")
    return Viewer(admin=False, key_id=principal.key_id, grader=None)


def _engine(svc: Services) -> Engine:
    if svc.engine is None:
        raise StoreUnavailableError(
            "the dashboard reads the decision store, and this proxy runs without one; start it with a store"
        )
    return svc.engine


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, default=_json_default, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers={"cache-control": "no-store"})


Handler = Callable[["Services", Viewer, Request], Awaitable[Any]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run ``handler``, and answer its result as JSON (or a tiered error in Anthropic's shape)."""

    async def endpoint(request: Request) -> Response:
        svc = services(request)
        try:
            who = await viewer(svc, request)
            return _json(await handler(svc, who, request))
        except TieredError as exc:
            return anthropic_error_response(exc, {"cache-control": "no-store"})

    return endpoint


def _route(request: Request) -> str | None:
    value = request.query_params.get("route", "")
    if not value:
        return None
    if not _ROUTE.match(value):
        raise InvalidRequestError(f"route: {value[:80]!r} is not a route name")
    return value


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise InvalidRequestError(f"limit: must be a whole number from 1 to {_MAX_LIMIT}, got {raw[:20]!r}")
    return int(raw)


def _window_scope(request: Request, who: Viewer) -> tuple[Window, Scope]:
    from ..dashboard.queries import Scope
    from ..dashboard.window import parse_window

    window = parse_window(request.query_params.get("window", "1h"))
    scope = Scope(since=window.since(datetime.now(UTC)), route=_route(request), key_id=who.key_id)
    return window, scope


async def _session(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.window import PRESETS

    return {
        "admin": who.admin,
        "scope": "all" if who.key_id is None else "key",
        "key_id": who.key_id,
        "auth_mode": svc.auth.mode,
        "routes": sorted(svc.settings.routes),
        "windows": list(PRESETS),
        "storm_rate": svc.settings.alerts.escalation_rate,
        "refresh_s": _REFRESH_S,
        "store": svc.engine is not None,
    }


async def _overview(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.queries import overview

    window, scope = _window_scope(request, who)
    result = await anyio.to_thread.run_sync(overview, _engine(svc), scope)
    return {"window": window.name, "since": scope.since, "route": scope.route, **dataclasses.asdict(result)}


async def _series(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.queries import series

    window, scope = _window_scope(request, who)
    now = datetime.now(UTC)
    edges = window.edges(now)
    result = await anyio.to_thread.run_sync(lambda: series(_engine(svc), scope, edges, now=now))
    storm = svc.settings.alerts.escalation_rate
    return {"window": window.name, "route": scope.route, "storm_rate": storm, **dataclasses.asdict(result)}


def _common(values: list[float]) -> float | None:
    """The value every route shares, else ``None`` (the page then asks for one route)."""
    return values[0] if values and all(v == values[0] for v in values) else None


async def _quality(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.listing import open_alert
    from ..quality.stats import GradeWindow, false_confident_summary
    from ..quality.thresholds import current_changes, effective_threshold

    window, scope = _window_scope(request, who)
    route = scope.route
    settings = svc.settings
    names = [route] if route is not None else sorted(settings.routes)
    specs = [settings.routes[name] for name in names if name in settings.routes]
    target = _common([spec.max_false_confident for spec in specs])
    ceiling = _common([spec.threshold_ceiling for spec in specs])
    level = _common([spec.confidence_level for spec in specs]) or 0.95
    engine = _engine(svc)

    def run() -> Any:
        summary = false_confident_summary(
            engine,
            route=route,
            window=GradeWindow(last=None, span=window.span),
            level=level,
            target=target,
            method=settings.quality.bound,
        )
        newest = current_changes(engine)
        per_route = {
            name: effective_threshold(settings, name, newest.get(name)) for name in names if name in settings.routes
        }
        value = _common(list(per_route.values())) if len(per_route) == len(names) else None
        changes = [newest[name] for name in names if name in newest and not newest[name].reset]
        changed = [c.created_at for c in changes if c.created_at is not None]
        alert = open_alert(engine, "false_confident", names)
        return summary, per_route, value, max(changed) if changed and value is not None else None, alert

    summary, per_route, threshold, changed_at, alert = await anyio.to_thread.run_sync(run)
    return {
        "route": route,
        "window": window.name,
        "target": target,
        "threshold": threshold,
        "threshold_changed_at": changed_at,
        "thresholds": per_route,
        "ceiling": ceiling,
        "at_ceiling": threshold is not None and ceiling is not None and threshold >= ceiling - 1e-9,
        "false_confident": summary.to_dict() if summary.n else None,
        "alert": alert,
    }


async def _decisions(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.listing import GRADE_FILTERS, DecisionFilter, decision_page
    from ..store.report import OUTCOMES

    _, scope = _window_scope(request, who)
    params = request.query_params
    before_raw = params.get("before")
    before = _timestamp(before_raw) if before_raw else None
    before_id = params.get("before_id") or None
    if before_id is not None and before is None:
        raise InvalidRequestError("before_id: only with before (the time of the row to page back from)")
    where = DecisionFilter(outcome=_choice(params, "outcome", OUTCOMES), grade=_choice(params, "grade", GRADE_FILTERS))
    limit = _limit(request, 50)

    def run() -> Any:
        return decision_page(_engine(svc), scope, where, limit=limit, before=before, before_id=before_id)

    page = await anyio.to_thread.run_sync(run)
    return {"decisions": page.rows, "total": page.total, "newer": page.newer}


def _choice(params: Any, name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidRequestError(f"{name}: must be one of {', '.join(allowed)}, got {value[:40]!r}")
    return value


def _timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequestError(f"before: {raw[:40]!r} is not an ISO 8601 time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _decision(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.listing import decision_detail

    decision_id = request.path_params["decision_id"]
    found = await anyio.to_thread.run_sync(decision_detail, _engine(svc), decision_id)
    if found is None or (who.key_id is not None and found.get("key_id") != who.key_id):
        # the same answer for "absent" and "not yours": ids are not an oracle
        raise NotFoundError(f"decision {decision_id!r} not found")
    return {**found, "request": _readable(found.get("request_text"))}


async def _thresholds(svc: Services, who: Viewer, request: Request) -> Any:
    from ..quality.thresholds import history

    route, limit = _route(request), _limit(request, 20)

    def run() -> Any:
        return [{**dataclasses.asdict(c), "reset": c.reset} for c in history(_engine(svc), route, limit=limit)]

    return {"changes": await anyio.to_thread.run_sync(run)}


async def _shadow(svc: Services, who: Viewer, request: Request) -> Any:
    """Hook (#19): shadow projections per route and slice over the window (tiered.quality.projection)."""
    from ..quality.projection import shadow_projections

    _, scope = _window_scope(request, who)

    def run() -> Any:
        found = shadow_projections(_engine(svc), svc.settings, route=scope.route, since=scope.since)
        return [p.to_dict() for p in found]

    return {"projections": await anyio.to_thread.run_sync(run)}


async def _alerts(svc: Services, who: Viewer, request: Request) -> Any:
    from ..dashboard.listing import recent_alerts

    route, limit = _route(request), _limit(request, 20)

    def run() -> Any:
        return recent_alerts(_engine(svc), route=route, limit=limit)

    return {"alerts": await anyio.to_thread.run_sync(run)}


async def _audits(svc: Services, who: Viewer, request: Request) -> Any:
    from ..store.grades import pending_audits

    _admin_only(who)
    route, limit = _route(request), _limit(request, 20)

    def run() -> Any:
        items = pending_audits(_engine(svc), route=route, limit=limit)
        return [
            {**dataclasses.asdict(i), "request": _readable(i.request_text), "weight": _weight(svc, i)} for i in items
        ]

    return {"audits": await anyio.to_thread.run_sync(run)}


def _weight(svc: Services, item: Any) -> float:
    """The weight a grade of this sample will carry (as :func:`tiered.quality.samples.sample_weight` gives it)."""
    from ..quality.sampler import pick_weight

    spec = svc.settings.routes.get(item.route)
    return pick_weight(spec, item.probability) if spec is not None and item.probability else 1.0


def _readable(request_text: str | None) -> str | None:
    """The stored request as a grader reads it: the conversation, one ``[role]`` header per message."""
    from ..quality.transcript import parse_request_text, render_transcript

    return render_transcript(parse_request_text(request_text)) if request_text is not None else None


async def _grade(svc: Services, who: Viewer, request: Request) -> Any:
    """Record a person's verdict; one that would move a route's threshold for everyone is recorded only with
    ``"confirm_move": true`` (otherwise it is taken back at once and the move is described, for the page to ask)."""
    from ..quality.grading import grade_decision, parse_grade_body
    from ..store.grades import undo_grade
    from ..store.schema import GraderKind

    _admin_only(who)
    body = await read_json(request, _GRADE_BODY_LIMIT)
    confirmed = body.pop("confirm_move", False)
    if not isinstance(confirmed, bool):
        raise InvalidRequestError("confirm_move: must be true or false")
    # a grade given on this page is a person's, whatever the body says
    grade = parse_grade_body({**body, "grader_kind": "human"})
    engine = _engine(svc)
    decision_id = request.path_params["decision_id"]

    def run() -> Any:
        # only a move this grade brings about needs confirming: one the evidence already called for does not
        already = _threshold_move(svc, engine, decision_id)
        record = grade_decision(
            engine, svc.settings, decision_id, grade.verdict, grade.grader_kind, grader=who.grader, reason=grade.reason
        )
        move = _threshold_move(svc, engine, decision_id)
        if move is not None and move != already and not confirmed:
            undo_grade(engine, decision_id, kinds=(GraderKind.HUMAN,), grader=who.grader)
            return {"grade": None, "needs_confirmation": move}
        return {"grade": record, "threshold_move": move}

    return await anyio.to_thread.run_sync(run)


def _threshold_move(svc: Services, engine: Engine, decision_id: str) -> dict[str, Any] | None:
    """What the threshold controller would now do to the decision's route, when it is a move, else ``None``."""
    from ..dashboard.listing import decision_route
    from ..quality.controller import ThresholdController

    route = decision_route(engine, decision_id)
    if route is None or route not in svc.settings.routes:
        return None
    step = ThresholdController(svc.settings, engine).preview(route)
    if step.action == "hold":
        return None
    return {"route": route, "action": step.action, "old": step.old, "new": step.new}


async def _undo_grade(svc: Services, who: Viewer, request: Request) -> Any:
    """Take back the newest grade this person gave on the decision (their own, never another's or the judge's)."""
    from ..store.grades import undo_grade
    from ..store.schema import GraderKind

    _admin_only(who)
    engine = _engine(svc)
    decision_id = request.path_params["decision_id"]

    def run() -> Any:
        return undo_grade(engine, decision_id, kinds=(GraderKind.HUMAN,), grader=who.grader)

    record, left = await anyio.to_thread.run_sync(run)
    return {"undone": record, "remaining_grades": left}


def _admin_only(who: Viewer) -> None:
    if not who.admin:
        raise PermissionDeniedError("grading needs an admin key: grades move the route's threshold for everyone")


async def _page(request: Request) -> Response:
    return _asset_response("index.html")


async def _static(request: Request) -> Response:
    return _asset_response(request.path_params["name"])


def _asset_response(name: str) -> Response:
    from ..dashboard.assets import SECURITY_HEADERS, load_asset

    asset = load_asset(name)
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
    return Response(asset.body, media_type=asset.media_type, headers=SECURITY_HEADERS)


async def _slash(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=308)


def dashboard_routes() -> list[Route]:
    api = "/v1/tiered/dashboard"
    return [
        Route("/dashboard", _page, methods=["GET"]),
        Route("/dashboard/", _slash, methods=["GET"]),
        Route("/dashboard/static/{name}", _static, methods=["GET"]),
        Route(f"{api}/session", _endpoint(_session), methods=["GET"]),
        Route(f"{api}/overview", _endpoint(_overview), methods=["GET"]),
        Route(f"{api}/series", _endpoint(_series), methods=["GET"]),
        Route(f"{api}/quality", _endpoint(_quality), methods=["GET"]),
        Route(f"{api}/decisions", _endpoint(_decisions), methods=["GET"]),
        Route(f"{api}/decisions/{{decision_id}}", _endpoint(_decision), methods=["GET"]),
        Route(f"{api}/thresholds", _endpoint(_thresholds), methods=["GET"]),
        Route(f"{api}/alerts", _endpoint(_alerts), methods=["GET"]),
        Route(f"{api}/shadow", _endpoint(_shadow), methods=["GET"]),
        Route(f"{api}/audits", _endpoint(_audits), methods=["GET"]),
        Route(f"{api}/audits/{{decision_id}}/grade", _endpoint(_grade), methods=["POST"]),
        Route(f"{api}/audits/{{decision_id}}/grade", _endpoint(_undo_grade), methods=["DELETE"]),
    ]
