"""The OpenAI-compatible adapter (OpenAI, vLLM, Ollama, ...): Messages in, Messages out, chat completions on
the wire.

The body is translated with :mod:`tiered.openai_compat` and sent to ``{base_url}/chat/completions`` (so
``base_url`` ends with ``/v1``); the answer is translated back, and a stream is translated chunk by chunk into
Messages events. A leading ``openai:`` (the tier prefix) is stripped from the model name.

Authentication: ``Authorization: Bearer <api_key>`` unless the request headers carry ``authorization``
(pass-through mode: it is forwarded instead). ``x-api-key`` is never forwarded here: it is an Anthropic
credential and must not leak to another provider. ``openai-organization`` and ``openai-project`` are
forwarded. The request limit is sent as ``max_completion_tokens`` to api.openai.com and as ``max_tokens``
elsewhere (what every compatible server understands).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import httpx2

from tiered.errors import UpstreamError, UpstreamProtocolError
from tiered.openai_compat import (
    ChatToMessagesStream,
    MaxTokensField,
    chat_response_to_messages,
    messages_request_to_chat,
)
from tiered.providers._errors import stream_error
from tiered.providers._http import HTTPCore, HTTPProviderSettings, SleepFn
from tiered.providers._response import UpstreamResponse
from tiered.providers._sse import SSEReader, check_event_stream
from tiered.providers.base import ProviderResponse, StreamEvent

__all__ = ["OpenAIProvider", "OpenAIStream"]

_FORWARDED: Final = ("authorization", "openai-organization", "openai-project")
_TIER_PREFIX: Final = "openai:"


class OpenAIProvider:
    """Calls ``{base_url}/chat/completions`` with translated Messages requests."""

    def __init__(
        self,
        settings: HTTPProviderSettings,
        client: httpx2.AsyncClient | None = None,
        *,
        name: str = "openai",
        max_tokens_field: MaxTokensField | None = None,
        sleep: SleepFn | None = None,
        random: Callable[[], float] | None = None,
        direct: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._name = name
        self._core = HTTPCore(
            settings,
            client,
            provider=name,
            base_url_hint="OPENAI_BASE_URL",
            sleep=sleep,
            random=random,
            direct=direct,
        )
        if max_tokens_field is None:
            official = "://api.openai.com" in settings.base_url
            max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        self._max_tokens_field: MaxTokensField = max_tokens_field

    @property
    def name(self) -> str:
        return self._name

    async def send(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        request, model = self._request(body, stream=False)
        response = await self._core.request(
            "POST", "/chat/completions", headers=self._headers(headers, "application/json"), body=request, model=model
        )
        completion = self._core.json_body(response, model)
        try:
            message = chat_response_to_messages(completion)
        except UpstreamError as exc:
            raise _with_call(exc, self._name, model, _request_id(response.headers)) from exc
        return ProviderResponse(
            body=message,
            status=response.status_code,
            request_id=_request_id(response.headers),
            headers=response.headers,
        )

    @asynccontextmanager
    async def stream(
        self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[OpenAIStream]:
        request, model = self._request(body, stream=True)
        async with self._core.stream(
            "POST", "/chat/completions", headers=self._headers(headers, "text/event-stream"), body=request, model=model
        ) as response:
            check_event_stream(response, self._name, model)
            reader = SSEReader(response, self._core, model)
            yield OpenAIStream(response, reader, provider=self._name, model=model)

    async def aclose(self) -> None:
        await self._core.aclose()

    def _request(self, body: dict[str, Any], *, stream: bool) -> tuple[dict[str, Any], str]:
        payload = {key: value for key, value in body.items() if key != "stream"}
        model = payload.get("model")
        if isinstance(model, str):
            payload["model"] = model.removeprefix(_TIER_PREFIX)
        if stream:
            payload["stream"] = True
        request = messages_request_to_chat(payload, max_tokens_field=self._max_tokens_field)
        return request, request["model"]

    def _headers(self, extra: Mapping[str, str] | None, accept: str) -> dict[str, str]:
        settings = self._core.settings
        headers = {"accept": accept, "content-type": "application/json", "user-agent": "tiered"}
        headers.update(settings.default_headers)
        given = {key.lower(): value for key, value in (extra or {}).items()}
        if "authorization" not in given and settings.api_key:
            headers["authorization"] = f"Bearer {settings.api_key}"
        for key in _FORWARDED:
            if key in given:
                headers[key] = given[key]
        return headers


class OpenAIStream:
    """A chat-completions stream read as Messages :class:`StreamEvent` s.

    Iteration ends after ``message_stop``. An ``error`` chunk raises :class:`UpstreamStatusError`; a body
    that ends before a ``finish_reason`` raises :class:`UpstreamProtocolError`; a dropped connection raises
    :class:`UpstreamConnectionError`.
    """

    def __init__(self, response: UpstreamResponse, reader: SSEReader, *, provider: str, model: str) -> None:
        self._response = response
        self._reader = reader
        self._provider = provider
        self._model = model
        self._translator = ChatToMessagesStream(model=model)
        self._pending: deque[StreamEvent] = deque()

    @property
    def request_id(self) -> str | None:
        return _request_id(self._response.headers)

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        while not self._pending:
            if self._translator.done:
                raise StopAsyncIteration
            try:
                events = await self._next_events()
            except UpstreamError as exc:
                self._translator.done = True
                if exc.model:
                    raise
                raise _with_call(exc, self._provider, self._model, self.request_id) from exc
            self._pending.extend(
                StreamEvent(event["type"], json.dumps(event, separators=(",", ":")).encode(), event) for event in events
            )
        return self._pending.popleft()

    def ready(self) -> list[StreamEvent]:
        """The events already translated, taken without waiting."""
        out = list(self._pending)
        self._pending.clear()
        return out

    async def _next_events(self) -> list[dict[str, Any]]:
        event = await self._reader.next_event()
        if event is None or event.data == b"[DONE]":
            return self._translator.finish()
        try:
            chunk = event.json()
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"{self._provider} sent a stream chunk that is not JSON: {event.data[:200]!r}; check the base URL"
            ) from exc
        if "error" in chunk:
            raise stream_error(chunk, provider=self._provider, model=self._model, request_id=self.request_id)
        return self._translator.feed(chunk)


def _request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-request-id") or headers.get("request-id")


def _with_call(exc: UpstreamError, provider: str, model: str, request_id: str | None) -> UpstreamError:
    """The translator's error, labelled with the call it belongs to."""
    return type(exc)(
        f"{provider}: {exc.message}",
        provider=provider,
        model=model,
        status=exc.status,
        error_type=exc.error_type,
        request_id=request_id,
        retryable=exc.retryable,
    )
