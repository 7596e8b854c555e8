"""The OpenAI-compatible endpoint: ``POST /v1/chat/completions`` (JSON and streaming) and ``/v1/models``.

A chat request is translated to a Messages request (:mod:`tiered.openai_compat`), routed through the same
cascade as ``/v1/messages`` (early abort included), and the answer translated back: a JSON
``chat.completion``, or ``chat.completion.chunk`` ``data:`` lines ending in ``data: [DONE]``. Errors use the
OpenAI error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import TieredError
from ..openai_compat import MessagesToChatStream, chat_request_to_messages, messages_response_to_chat
from ..streaming import FinalChunk
from .common import decision_headers, head_headers, header_map, read_json, route_request, services
from .errors import openai_error_response
from .responses import AnswerResponse, EventStreamResponse

if TYPE_CHECKING:
    from ..router import Routed
    from ..streaming import RoutedStream, StreamHead

__all__ = ["chat_completions", "list_models_openai"]

log = logging.getLogger("tiered.server")


async def chat_completions(request: Request) -> Response:
    svc = services(request)
    try:
        headers = header_map(request)
        principal = await svc.auth.authenticate(headers, bearer_as_api_key=True)
        raw = await read_json(request, svc.settings.server.max_body_bytes, headers)
        translated = chat_request_to_messages(raw)
        created = int(time.time())

        def json_response(routed: Routed) -> Response:
            completion = messages_response_to_chat(routed.body, created=created)
            return AnswerResponse(completion, headers=decision_headers(routed.decision))

        def stream_response(routed: RoutedStream, head: StreamHead, on_close: Callable[[], None]) -> Response:
            chunks = MessagesToChatStream(created=created, include_usage=translated.include_usage)
            return EventStreamResponse(_chat_stream(routed, chunks, on_close), headers=head_headers(head))

        return await route_request(
            request,
            svc,
            principal,
            translated.body,
            stream=translated.stream,
            json_response=json_response,
            stream_response=stream_response,
        )
    except TieredError as exc:
        return openai_error_response(exc)
    except Exception:
        log.exception("unexpected error while handling a chat completion")
        return openai_error_response(TieredError("internal error in tiered; the request was not completed"))


async def _chat_stream(
    routed: RoutedStream, chunks: MessagesToChatStream, on_close: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        batch: list[bytes] = []
        async for event in routed.events():
            batch.extend(chunks.feed(event.event, event.json()))
            if chunks.done:  # the last chunks and [DONE]: the response can end with them
                yield FinalChunk(b"".join(batch))
                batch.clear()
            elif batch and not routed.more_ready():
                yield b"".join(batch)
                batch.clear()
        if batch:
            yield b"".join(batch)
    finally:
        await routed.aclose()  # at once if it ended; else closes the upstream (shielded) and records
        on_close()


async def list_models_openai(request: Request) -> Response:
    """The routes as OpenAI model objects (``tiered``, ``tiered/<route>``)."""
    from .models_api import openai_model, route_models

    svc = services(request)
    try:
        await svc.auth.authenticate(request.headers, bearer_as_api_key=True)
    except TieredError as exc:
        return openai_error_response(exc)
    data = [openai_model(m["id"]) for m in route_models(request)]
    return JSONResponse({"object": "list", "data": data})
