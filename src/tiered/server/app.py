"""The ASGI application: routes, the services behind them, and their lifetime.

:func:`create_app` builds the app for ``tiered serve``: on start it opens the decision store (migrating it),
starts the decision writer, and picks the auth mode; on shutdown it flushes the writer and closes upstream
connections. Tests build it the same way, with a transport or the fake upstream's URL in the settings.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import TieredError
from .anthropic_api import count_tokens, messages
from .common import decision_not_found, services
from .errors import anthropic_error_response
from .models_api import get_model, list_models

if TYPE_CHECKING:
    import httpx2

    from ..config import Settings
    from .common import Services

__all__ = ["create_app", "settle_heap"]

log = logging.getLogger("tiered.server")

# The cyclic collector's youngest generation is collected after this many net container allocations (CPython's
# default is 700). A proxy request allocates thousands, so the default collects several times a request.
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Once the server has started: keep the cyclic garbage collector off what start-up built.

    Everything alive then (modules, the app, the price tables, the store's metadata) lives as long as the
    process, yet the collector would walk all of it in every full collection, and new objects joining the old
    generations trigger those often under load: about a tenth of the proxy's CPU per request. ``gc.freeze()``
    moves those objects into a generation the collector ignores (they are still freed by reference counting),
    and the youngest generation is collected less often. Garbage cycles made while serving are still found."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if young:  # 0 means the collector was turned off on purpose: leave it off
        gc.set_threshold(max(young, YOUNG_COLLECTION_THRESHOLD), middle, old)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The readiness checks, and the configured models' problems (see :mod:`.model_checks`): the capability
    table is read every time, the upstream's model list at most every ``LIST_REFRESH_S``."""
    svc = services(request)
    results = {}
    for name, check in svc.checks.items():
        try:
            results[name] = bool(check())
        except Exception:
            results[name] = False
    body: dict[str, Any] = {"checks": results}
    if svc.models is not None:
        body["models"] = [p.to_dict() for p in await svc.models.check()]
        results["models"] = svc.models.ready()
    economics = svc.router.deps.economics
    if economics is not None:  # degraded, never failed: without Redis a replica decides from its own state
        body["economics"] = await economics.status()
    ready = all(results.values())
    return JSONResponse({"status": "ready" if ready else "not ready", **body}, status_code=200 if ready else 503)


async def get_decision(request: Request) -> Response:
    """A decision as JSON, to the key that made the request or to an admin."""
    svc = services(request)
    try:
        principal = await svc.auth.authenticate(request.headers)
        decision_id = request.path_params["decision_id"]
        found = svc.recent.get(decision_id)
        data: dict[str, Any] | None = found.to_dict() if found is not None else None
        if data is None and svc.lookup is not None:
            data = await svc.lookup(decision_id)
        if data is None or not (principal.admin or data.get("key_id") == principal.key_id):
            if svc.lookup is None:
                raise decision_not_found(decision_id)
            # with a store every decision of this proxy is in it (or on its way): the in-memory window is moot
            raise decision_not_found(decision_id, "no such decision in the decision store, or another key made it")
        return JSONResponse(data)
    except TieredError as exc:
        return anthropic_error_response(exc)


def routes(extra: list[Route] | None = None) -> list[Route]:
    from .dashboard_api import dashboard_routes
    from .openai_api import chat_completions
    from .quality_api import quality_routes

    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", list_models_any, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/tiered/decisions/{decision_id}", get_decision, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *dashboard_routes(),
        *quality_routes(),
        *(extra or []),
    ]


async def list_models_any(request: Request) -> Response:
    """``/v1/models`` serves both SDKs: the Anthropic shape for clients that send ``anthropic-version``,
    the OpenAI shape for the others."""
    if "anthropic-version" in request.headers:
        return await list_models(request)
    from .openai_api import list_models_openai

    return await list_models_openai(request)


def create_app(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    use_store: bool = True,
    configure: Callable[[Services], None] | None = None,
    tune_gc: bool = False,
) -> Starlette:
    """The proxy app. ``transport`` replaces the network for upstream calls (tests); ``use_store=False`` runs
    without a database (decisions kept in memory only; keys mode then needs ``server.admin_key``);
    ``tune_gc`` (the server process's own app, not an app among others in a test) calls :func:`settle_heap`
    once started."""
    from .quality_api import keep_quality
    from .runtime import open_services

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(
            settings, transport=transport, use_store=use_store, on_quality=keep_quality(app)
        ) as svc:
            if configure is not None:
                configure(svc)
            app.state.services = svc
            if tune_gc:
                settle_heap()
            yield

    from .openai_api import chat_completions
    from .responses import TieredApp

    return TieredApp(
        routes=routes(),
        lifespan=lifespan,
        exception_handlers={404: _no_route, 405: _no_route},
        direct={"/v1/messages": messages, "/v1/chat/completions": chat_completions},
    )


async def _no_route(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the API's error shape, like everything else."""
    from starlette.exceptions import HTTPException

    from ..errors import NotFoundError
    from .errors import openai_error_response

    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = NotFoundError(
        f"{request.method} {request.url.path}: no such endpoint"
        + (" for this method" if status == 405 else "")
        + "; tiered serves POST /v1/messages, POST /v1/chat/completions, GET /v1/models"
    )
    if status == 405:
        error.status, error.error_type = 405, "invalid_request_error"
    if request.url.path.startswith("/v1/chat"):
        return openai_error_response(error)
    return anthropic_error_response(error)
