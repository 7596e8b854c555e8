"""The Anthropic-compatible endpoints: ``/v1/messages`` (JSON and SSE) and ``count_tokens`` (``/v1/models``: see
:mod:`.models_api`)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import TieredError
from .common import (
    decision_headers,
    head_headers,
    header_map,
    read_json,
    resolve_model,
    route_request,
    services,
    stream_body,
)
from .errors import anthropic_error_response
from .responses import AnswerResponse, EventStreamResponse

__all__ = ["count_tokens", "messages"]

log = logging.getLogger("tiered.server")


def _internal(exc: Exception) -> TieredError:
    log.exception("unexpected error while handling a request")
    return TieredError(f"internal error in tiered ({type(exc).__name__}); the request was not completed")


async def messages(request: Request) -> Response:
    svc = services(request)
    try:
        headers = header_map(request)
        principal = await svc.auth.authenticate(headers)
        body = await read_json(request, svc.settings.server.max_body_bytes, headers)
        return await route_request(
            request,
            svc,
            principal,
            body,
            stream=body.get("stream") is True,
            json_response=lambda routed: AnswerResponse(routed.body, headers=decision_headers(routed.decision)),
            stream_response=lambda routed, head, on_close: EventStreamResponse(
                stream_body(routed, on_close), headers=head_headers(head)
            ),
        )
    except TieredError as exc:
        return anthropic_error_response(exc)
    except Exception as exc:
        return anthropic_error_response(_internal(exc))


async def count_tokens(request: Request) -> Response:
    """Counted by the upstream for the model that would answer a routed request last (its final tier), so a
    client's context checks hold whichever tier answers."""
    svc = services(request)
    try:
        principal = await svc.auth.authenticate(request.headers)
        body = await read_json(request, svc.settings.server.max_body_bytes)
        route = resolve_model(svc.settings, body.get("model"))
        if route is not None:
            tier = svc.router.route_settings(route).tiers[-1]
            provider_name, model = tier.provider, tier.model_id
        else:
            model = str(body["model"])
            provider_name, sep, bare = model.partition(":")
            if sep and provider_name in svc.settings.providers:
                model = bare
            else:
                provider_name = "anthropic"
        provider: Any = svc.router.upstreams.provider(provider_name)
        if not hasattr(provider, "count_tokens"):
            raise TieredError(f"provider {provider_name!r} cannot count tokens")
        response = await provider.count_tokens({**body, "model": model}, headers=principal.upstream_headers)
        return JSONResponse(response.body)
    except TieredError as exc:
        return anthropic_error_response(exc)
    except Exception as exc:
        return anthropic_error_response(_internal(exc))
