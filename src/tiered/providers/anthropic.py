"""The Anthropic Messages adapter: bodies pass through untouched, streams are relayed event by event.

Authentication: the server's key (``x-api-key``) is sent unless the request's own headers carry
``x-api-key`` or ``authorization`` (pass-through mode): then the client's credential is forwarded and the
server's key is not sent at all. ``anthropic-version`` defaults to ``2023-06-01``; ``anthropic-beta`` and any
other ``anthropic-*`` request header are forwarded. Other request headers are not (they belong to the hop
between the client and tiered).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import quote

import anyio
import httpx2

from tiered.errors import UpstreamProtocolError
from tiered.providers._errors import stream_error
from tiered.providers._http import HTTPCore, HTTPProviderSettings, SleepFn
from tiered.providers._response import UpstreamResponse
from tiered.providers._sse import SSEReader, check_event_stream
from tiered.providers.base import ProviderResponse, StreamEvent

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider", "AnthropicStream"]

ANTHROPIC_VERSION: Final = "2023-06-01"
_AUTH_HEADERS: Final = ("x-api-key", "authorization")


class AnthropicProvider:
    """Calls ``{base_url}/v1/messages`` (and the count-tokens and models endpoints)."""

    def __init__(
        self,
        settings: HTTPProviderSettings,
        client: httpx2.AsyncClient | None = None,
        *,
        name: str = "anthropic",
        sleep: SleepFn | None = None,
        random: Callable[[], float] | None = None,
        direct: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._name = name
        self._core = HTTPCore(
            settings,
            client,
            provider=name,
            base_url_hint="ANTHROPIC_BASE_URL",
            sleep=sleep,
            random=random,
            direct=direct,
        )

    @property
    def name(self) -> str:
        return self._name

    async def send(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        payload = {key: value for key, value in body.items() if key != "stream"}
        return await self._json("POST", "/v1/messages", headers, payload, model=_model(body))

    async def count_tokens(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """``POST /v1/messages/count_tokens``, the JSON passed through."""
        return await self._json("POST", "/v1/messages/count_tokens", headers, body, model=_model(body))

    async def list_models(
        self, *, headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None
    ) -> ProviderResponse:
        """``GET /v1/models`` (``params``: ``limit``, ``after_id``, ``before_id``), the JSON passed through."""
        return await self._json("GET", "/v1/models", headers, None, params=params)

    async def get_model(self, model_id: str, *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """``GET /v1/models/{model_id}``, the JSON passed through; ``model_id`` may be an alias
        (https://platform.claude.com/docs/en/api/python/models/retrieve)."""
        return await self._json("GET", "/v1/models/" + quote(model_id, safe=""), headers, None)

    @asynccontextmanager
    async def stream(
        self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[AnthropicStream]:
        model = _model(body)
        payload = {**body, "stream": True}
        request_headers = self._headers(headers, accept="text/event-stream")
        async with self._core.stream(
            "POST", "/v1/messages", headers=request_headers, body=payload, model=model
        ) as response:
            check_event_stream(response, self._name, model)
            reader = SSEReader(response, self._core, model)
            stream = AnthropicStream(response, reader, provider=self._name, model=model)
            try:
                yield stream
            finally:
                if stream.finished and not reader.drained:  # read the body's end so the connection is kept
                    with anyio.CancelScope(shield=True):
                        await reader.drain()

    async def aclose(self) -> None:
        await self._core.aclose()

    async def _json(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        *,
        model: str = "",
        params: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        response = await self._core.request(
            method,
            path,
            headers=self._headers(headers, accept="application/json"),
            body=body,
            params=params,
            model=model,
        )
        return ProviderResponse(
            body=self._core.json_body(response, model),
            status=response.status_code,
            request_id=response.headers.get("request-id"),
            headers=response.headers,
        )

    def _headers(self, extra: Mapping[str, str] | None, *, accept: str) -> dict[str, str]:
        settings = self._core.settings
        headers = {"accept": accept, "content-type": "application/json", "user-agent": "tiered"}
        headers.update(settings.default_headers)
        given = {key.lower(): value for key, value in (extra or {}).items()}
        if any(name in given for name in _AUTH_HEADERS):
            for name in _AUTH_HEADERS:
                headers.pop(name, None)
        elif settings.api_key:
            headers["x-api-key"] = settings.api_key
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        for key, value in given.items():
            if key in _AUTH_HEADERS or key.startswith("anthropic-"):
                headers[key] = value
        return headers


class AnthropicStream:
    """An open Messages stream: iterate it for :class:`StreamEvent` s (``ping`` included).

    Iteration ends after ``message_stop``. An ``error`` event raises :class:`UpstreamStatusError` with the
    event's error type; a body that ends before ``message_stop`` raises :class:`UpstreamProtocolError`; a
    dropped connection raises :class:`UpstreamConnectionError`.
    """

    def __init__(self, response: UpstreamResponse, reader: SSEReader, *, provider: str, model: str) -> None:
        self._response = response
        self._reader = reader
        self._provider = provider
        self._model = model
        self._done = False
        self._failed = False

    @property
    def request_id(self) -> str | None:
        return self._response.headers.get("request-id")

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def buffered(self) -> int:
        """Events already received and decoded, waiting to be read."""
        return self._reader.buffered

    @property
    def finished(self) -> bool:
        """The stream reached ``message_stop`` (as opposed to being abandoned or failing)."""
        return self._done and not self._failed

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._reader.next_event()
        if event is None:
            self._done = self._failed = True
            raise UpstreamProtocolError(
                f"{self._provider} ended the stream before message_stop; the answer is incomplete, retry the request",
                provider=self._provider,
                model=self._model,
                request_id=self.request_id,
            )
        return self._check(event)

    def ready(self) -> list[StreamEvent]:
        """The events already received, taken without waiting: what the next iterations would return, up to
        ``message_stop``. An ``error`` event is left for the next iteration to raise."""
        return [StreamEvent(name, data) for name, data in self.ready_pairs()]

    def ready_pairs(self) -> list[tuple[str, bytes]]:
        """:meth:`ready`, each event as its ``(name, data)`` pair (no :class:`StreamEvent` made)."""
        if self._done:
            return []
        return self._taken(self._reader.take_ready_pairs(last="message_stop", hold="error"))

    async def rest_pairs(self) -> list[tuple[str, bytes]]:
        """Every event left, as ``(name, data)`` pairs, the body read to its end with one wake-up (for a
        reader that needs the whole reply, not each event as it comes), up to ``message_stop``. An ``error``
        event, or a body that ends without ``message_stop``, is left for the next iteration to raise."""
        if self._done:
            return []
        return self._taken(await self._reader.read_rest_pairs(last="message_stop", hold="error"))

    def _taken(self, pairs: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        if pairs and pairs[-1][0] == "message_stop":
            self._done = True
        return pairs

    def _check(self, event: StreamEvent) -> StreamEvent:
        if event.event == "message_stop":
            self._done = True
        elif event.event == "error":
            self._done = self._failed = True
            raise stream_error(_payload(event), provider=self._provider, model=self._model, request_id=self.request_id)
        return event


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    return model if isinstance(model, str) else ""


def _payload(event: StreamEvent) -> dict[str, Any]:
    try:
        return event.json()
    except ValueError:
        return {"error": {"type": "api_error", "message": event.data[:200].decode(errors="replace")}}
