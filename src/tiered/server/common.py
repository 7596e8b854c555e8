"""What every endpoint shares: the services, reading a JSON body within the limit, decision headers, and
cancelling upstream work when the client goes away."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from starlette.requests import Request

from ..errors import InvalidRequestError, NotFoundError, RequestTooLargeError, TieredError
from ..fastjson import strict_loads
from .limits import Admission
from .protocol import DisconnectWatch

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.responses import Response

    from ..config import Settings
    from ..decision import Decision
    from ..router import Exchange, Routed, Router
    from ..streaming import RoutedStream, StreamHead
    from .auth import Authenticator, Principal
    from .model_checks import ModelChecks

__all__ = [
    "ClientGoneError",
    "RecentDecisions",
    "Services",
    "cancel_on_disconnect",
    "decision_headers",
    "head_headers",
    "header_map",
    "header_value",
    "read_json",
    "resolve_model",
    "services",
    "stream_body",
]

T = TypeVar("T")


class ClientGoneError(TieredError):
    status = 499
    error_type = "api_error"


class RecentDecisions:
    """The last N decisions in memory, for the decision endpoint (an observer of the router)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Decision] = OrderedDict()

    def __call__(self, decision: Decision, exchange: Exchange) -> None:
        if self.capacity <= 0:
            return
        self._items[decision.id] = decision
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, decision_id: str) -> Decision | None:
        return self._items.get(decision_id)

    def latest(self, count: int = 100) -> list[Decision]:
        """The newest decisions, newest first."""
        items = list(self._items.values())
        return items[: -count - 1 : -1]


@dataclass
class Services:
    settings: Settings
    router: Router
    auth: Authenticator
    recent: RecentDecisions
    lookup: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None
    """Find a decision that is no longer in memory (the decision store), as its JSON mapping."""
    checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    """Named readiness checks for ``/readyz``."""
    admission: Admission = field(default_factory=lambda: Admission(4096, 512))
    engine: Engine | None = None
    """The decision store's database, when the proxy runs with one."""
    """In-flight caps, per-key rate limits and budgets."""
    models: ModelChecks | None = None
    """The configured models' lifecycle checks (``/readyz``, start-up)."""


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def header_map(request: Request) -> dict[str, str]:
    """The request's headers as a dict, the first of a repeated name winning (as with Starlette's ``get``): one
    pass over them, where every lookup in Starlette's ``Headers`` scans them all (and authentication alone makes
    about ten lookups)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(request.scope["headers"])}


async def read_json(request: Request, limit: int, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over ``limit`` bytes without reading them whole.
    ``headers``: the request's, when the caller already has them as a mapping (:func:`header_map`)."""
    if headers is None:
        headers = request.headers
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestTooLargeError(f"request body: {int(length)} bytes is over the limit of {limit} bytes")
    content_type = headers.get("content-type", "application/json")
    if "json" not in content_type.lower():
        raise InvalidRequestError(f"content-type: expected application/json, got {content_type!r}")
    # the ASGI messages themselves (usually one holds the whole body), without Starlette's stream generator
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGoneError("the client disconnected while sending the request")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(f"request body: over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)  # one chunk (the usual case) is returned as it is, not copied
    if not raw:
        raise InvalidRequestError("request body: empty; send a JSON object")
    try:
        value = strict_loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequestError("request body: not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequestError("request body: JSON nested too deeply") from None
    except ValueError as exc:
        raise InvalidRequestError(f"request body: invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("request body: must be a JSON object")
    return value


def resolve_model(settings: Settings, model: Any) -> str | None:
    """The route a request's ``model`` asks for: ``tiered`` -> ``default``, ``tiered/<route>`` -> that route;
    ``None`` for any other model (pass-through)."""
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: field required (a model id, or 'tiered' / 'tiered/<route>')")
    if model == "tiered":
        return "default"
    if model.startswith("tiered/"):
        route = model[len("tiered/") :]
        if route not in settings.routes:
            known = ", ".join(f"tiered/{name}" for name in sorted(settings.routes))
            raise InvalidRequestError(f"model: unknown route {route!r}; configured: tiered, {known}")
        return route
    return None


# printable ASCII but "%": kept as it is by header_value (quote() escapes everything else, "%" included)
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


# a detail can quote a request's value (a server tool's type): the header stays short whatever the request says
_DETAIL_CHARS = 300


def header_value(value: str) -> str:
    """``value`` as a response header can carry it: printable ASCII as it is, anything else (a control
    character, a character outside ASCII, and ``%`` itself) percent-encoded as UTF-8 (RFC 3986), so
    ``urllib.parse.unquote`` gives the value back. Values come from requests and upstreams (a model name the
    upstream serves): Starlette encodes header values as Latin-1 (anything outside it raised
    ``UnicodeEncodeError``, a 500) and uvicorn refuses control characters (the connection was cut)."""
    if value.isascii() and value.isprintable() and "%" not in value:
        return value  # the usual case: ids, route and model names
    return quote(value, safe=_HEADER_SAFE)


def _fmt_conf(value: float | None) -> str:
    return "" if value is None else format(value, ".4g")


def _confidence(decision: Decision) -> float | None:
    """The shipped answer's confidence; for an escalated request, the last triage's (why it escalated)."""
    if decision.confidence is not None:
        return decision.confidence
    return next((a.confidence for a in reversed(decision.attempts) if a.confidence is not None), None)


def decision_headers(decision: Decision, *, with_cost: bool = True) -> dict[str, str]:
    headers = {
        "x-tiered-decision-id": decision.id,
        "x-tiered-route": header_value(decision.route or "passthrough"),
        "x-tiered-model": header_value(decision.answered_by or ""),
        "x-tiered-escalated": "true" if decision.escalated else "false",
        "x-tiered-confidence": _fmt_conf(_confidence(decision)),
        "x-tiered-reason": str(decision.reason) if decision.reason is not None else "",
        "x-tiered-degraded": "true" if decision.degraded else "false",
    }
    if decision.reason_detail:
        headers["x-tiered-reason-detail"] = header_value(decision.reason_detail[:_DETAIL_CHARS])
    if with_cost:
        headers["x-tiered-cost-usd"] = "unknown" if decision.cost_usd is None else f"{decision.cost_usd:.8f}"
        if decision.cache_penalty_usd is not None:  # priced by the economics (tiered.economics)
            headers["x-tiered-cache-penalty-usd"] = f"{decision.cache_penalty_usd:.8f}"
    answering = next((a for a in reversed(decision.attempts) if a.request_id), None)
    if answering is not None and answering.request_id:
        headers["request-id"] = header_value(answering.request_id)
    return headers


def head_headers(head: StreamHead) -> dict[str, str]:
    headers = {
        "x-tiered-decision-id": head.decision_id,
        "x-tiered-route": header_value(head.route or "passthrough"),
        "x-tiered-model": header_value(head.model),
        "x-tiered-escalated": "true" if head.escalated else "false",
        "x-tiered-confidence": _fmt_conf(head.confidence),
        "x-tiered-reason": str(head.reason) if head.reason is not None else "",
        "x-tiered-degraded": "true" if head.degraded else "false",
        "cache-control": "no-cache",
    }
    if head.reason_detail:
        # the feature and the model that kept the request from triage: configured model names and feature
        # names, no request content (see tiered.cascade.fit)
        headers["x-tiered-reason-detail"] = header_value(head.reason_detail[:_DETAIL_CHARS])
    return headers


async def cancel_on_disconnect(request: Request, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``; if the client disconnects first, cancel it (and so its upstream calls).

    Under tiered's own server protocol the connection's loss calls a hook (:mod:`.protocol`); under any other
    ASGI server a watcher task waits for ``http.disconnect``. Either cancels the handler's own task, which runs
    ``work`` itself: no task per request (a task group would cost about ten times more CPU than the work's
    own task did, and that task was itself a few percent of a request)."""
    task = asyncio.current_task()
    if task is None:  # not run by an event loop's task: nothing to cancel
        return await work()
    watch = DisconnectWatch(request.scope, request.receive, task.cancel)
    try:
        return await work()
    except asyncio.CancelledError:
        if watch.gone:
            task.uncancel()  # this cancellation was ours, and is answered here
            raise ClientGoneError("the client disconnected before the answer was ready") from None
        raise
    finally:
        watch.close()


async def stream_body(routed: RoutedStream, on_close: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    """The SSE body; closing it early (client gone) closes the upstream and records the decision."""
    try:
        async for chunk in routed:
            yield chunk
    finally:
        await routed.aclose()  # at once if it ended; else closes the upstream (shielded) and records
        if on_close is not None:
            on_close()


async def route_request(
    request: Request,
    svc: Services,
    principal: Principal,
    body: dict[str, Any],
    *,
    stream: bool,
    json_response: Callable[[Routed], Response],
    stream_response: Callable[[RoutedStream, StreamHead, Callable[[], None]], Response],
) -> Response:
    """Admit, route (``model`` picks the route, or pass-through), and answer in the endpoint's format. The
    admission ticket is held until the answer ends, streams included."""
    ticket = await svc.admission.enter(principal)
    handed_off = False
    try:
        route = resolve_model(svc.settings, body.get("model"))
        router = svc.router
        headers, key_id = principal.upstream_headers, principal.key_id
        if stream:
            routed = (
                router.stream(body, route=route, headers=headers, key_id=key_id)
                if route is not None
                else router.passthrough_stream(body, headers=headers, key_id=key_id)
            )
            head = await cancel_on_disconnect(request, routed.start)
            response = stream_response(routed, head, lambda: svc.admission.leave(ticket))
            handed_off = True
            return response

        async def work() -> Routed:
            if route is None:
                return await router.passthrough(body, headers=headers, key_id=key_id)
            return await router.create(body, route=route, headers=headers, key_id=key_id)

        return json_response(await cancel_on_disconnect(request, work))
    finally:
        if not handed_off:
            svc.admission.leave(ticket)


def decision_not_found(decision_id: str, hint: str = "it may be older than the in-memory window") -> NotFoundError:
    """The same answer for "absent" and "not yours": decision ids are not an oracle."""
    return NotFoundError(f"decision {decision_id!r} not found ({hint})")
