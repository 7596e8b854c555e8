"""``GET /v1/models`` and ``GET /v1/models/{model_id}`` in the Anthropic shape: tiered's routes as models
(``tiered``, ``tiered/<route>``), then the upstream's own models, paginated as the real API paginates.

The real API (https://platform.claude.com/docs/en/api/models-list): ``limit`` "Defaults to 20. Ranges from 1
to 1000"; ``after_id`` "returns the page of results immediately after this object", ``before_id`` "the page
of results immediately before this object"; ``first_id``/``last_id`` are the page's first and last ids
("can be used as the before_id for the previous page" / "the after_id for the next page"), and ``has_more``
"indicates if there are more results in the requested page direction". The SDK pages forward with
``after_id = last_id``, or backward with ``before_id = first_id`` when the first call used ``before_id``
(anthropic-sdk-python ``src/anthropic/pagination.py``, ``SyncPage.next_page_info``).

Not documented, so answered here with a 400 ``invalid_request_error`` rather than guessed: both cursors at
once, and a cursor that names no model in the list.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidRequestError, NotFoundError, TieredError, UpstreamError
from .common import services
from .errors import anthropic_error_response
from .model_checks import MAX_LIMIT, read_whole_list

__all__ = ["get_model", "list_models", "openai_model", "page", "route_models"]

log = logging.getLogger("tiered.server")

DEFAULT_LIMIT: Final = 20
_CREATED: Final = "2026-01-01T00:00:00Z"


def route_models(request: Request) -> list[dict[str, Any]]:
    """The routes as model objects: ``tiered`` (and ``tiered/default``) for the default route, ``tiered/<name>``
    for the others."""
    svc = services(request)
    out = []
    for name, route in svc.settings.routes.items():
        model_id = "tiered" if name == "default" else f"tiered/{name}"
        chain = " -> ".join(t.model for t in route.tiers)
        out.append({"type": "model", "id": model_id, "display_name": f"tiered {name}: {chain}", "created_at": _CREATED})
        if name == "default":
            out.append({**out[-1], "id": "tiered/default"})
    return out


def openai_model(model_id: str) -> dict[str, Any]:
    """A route as an OpenAI model object (``GET /v1/models`` without ``anthropic-version``)."""
    return {"id": model_id, "object": "model", "created": 1767225600, "owned_by": "tiered"}


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidRequestError("limit: Input should be a valid integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit: Input should be between 1 and {MAX_LIMIT}")
    return limit


def page(items: list[dict[str, Any]], limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
    """One page of ``items`` (in list order) by the real API's cursor rules (see the module docstring)."""
    if after_id is not None and before_id is not None:
        raise InvalidRequestError("after_id and before_id cannot be used together; page in one direction")
    ids = [item["id"] for item in items]
    if before_id is not None:
        if before_id not in ids:
            raise InvalidRequestError(f"before_id: no model {before_id!r} in the list")
        end = ids.index(before_id)
        start = max(0, end - limit)
        data, more = items[start:end], start > 0
    else:
        start = 0
        if after_id is not None:
            if after_id not in ids:
                raise InvalidRequestError(f"after_id: no model {after_id!r} in the list")
            start = ids.index(after_id) + 1
        data, more = items[start : start + limit], start + limit < len(items)
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


async def _upstream_models(request: Request, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The upstream's whole list; empty when it cannot be read (logged)."""
    try:
        return await read_whole_list(services(request).router.upstreams.provider("anthropic"), headers)
    except UpstreamError as exc:
        log.warning("upstream model list unavailable: %s", exc)
        return []


async def list_models(request: Request) -> Response:
    svc = services(request)
    try:
        principal = await svc.auth.authenticate(request.headers)
        query = request.query_params
        limit = _limit(query.get("limit"))
        items = route_models(request)
        seen = {m["id"] for m in items}
        items.extend(m for m in await _upstream_models(request, principal.upstream_headers) if m["id"] not in seen)
        return JSONResponse(page(items, limit, query.get("after_id"), query.get("before_id")))
    except TieredError as exc:
        return anthropic_error_response(exc)


async def get_model(request: Request) -> Response:
    """A route by its model id (in the OpenAI shape for a client that sends no ``anthropic-version``, as
    ``GET /v1/models``), or the upstream's answer for any other id (an alias included)."""
    svc = services(request)
    try:
        principal = await svc.auth.authenticate(request.headers)
        model_id: str = request.path_params["model_id"]
        for model in route_models(request):
            if model["id"] == model_id:
                if "anthropic-version" not in request.headers:  # an OpenAI client, as for the list
                    return JSONResponse(openai_model(model_id))
                return JSONResponse(model)
        if not model_id:
            raise NotFoundError("model_id: a model id is required")
        provider: Any = svc.router.upstreams.provider("anthropic")
        response = await provider.get_model(model_id, headers=principal.upstream_headers)
        return JSONResponse(response.body)
    except TieredError as exc:
        return anthropic_error_response(exc)
