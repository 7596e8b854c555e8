"""What every HTTP provider shares: settings, the pooled client and bounded retries.

This is the one seam where tiered does network I/O. A call is retried (with exponential backoff and jitter)
on 408, 409, 429 and 5xx, on connection errors and on timeouts, unless the upstream's ``x-should-retry``
header says otherwise; ``retry-after-ms`` / ``retry-after`` replace the backoff when sent, and a wait longer
than ``max_retry_after_s`` is not made at all (the error is raised with its retry hint instead). A stream is
retried only until its response headers arrive: once a body has started, an error ends the call.

Every failure leaves as a :class:`tiered.errors.UpstreamError` (built by :mod:`._errors`), raised ``from``
the httpx2 exception.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2

from tiered.errors import InvalidRequestError, UpstreamError, UpstreamStatusError
from tiered.fastjson import dumps, loads
from tiered.providers._errors import ErrorMapper
from tiered.providers._response import UpstreamResponse
from tiered.providers._settings import HTTPProviderSettings, safe_url
from tiered.providers._transport import LeanTransport

__all__ = ["HTTPCore", "HTTPProviderSettings", "SleepFn"]

logger = logging.getLogger("tiered.providers")

SleepFn = Callable[[float], Awaitable[None]]


class HTTPCore:
    """One provider's link to its upstream: owns (or borrows) the client and runs the retry loop.

    An injected ``client`` stays the caller's to close; one created here is closed by :meth:`aclose`.
    ``sleep`` and ``random`` are injectable so tests run instantly and deterministically.
    """

    def __init__(
        self,
        settings: HTTPProviderSettings,
        client: httpx2.AsyncClient | None = None,
        *,
        provider: str,
        base_url_hint: str,
        sleep: SleepFn | None = None,
        random: Callable[[], float] | None = None,
        direct: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """``direct``: the client's own transport, called directly (see :meth:`_attempt`)."""
        self.settings = settings
        self.provider = provider
        self.errors = ErrorMapper(settings, provider=provider, base_url_hint=base_url_hint)
        self._client = client
        self._owns_client = client is None
        self._sleep: SleepFn = sleep or anyio.sleep
        self._random = random or _default_random
        self._direct = direct
        self._lean = direct if isinstance(direct, LeanTransport) else None
        self._timeouts: dict[str, float | None] = httpx2.Timeout(
            settings.timeout_s, connect=settings.connect_timeout_s
        ).as_dict()
        self._extensions = {"timeout": self._timeouts}
        self._urls: dict[str, httpx2.URL] = {}

    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            s = self.settings
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(s.timeout_s, connect=s.connect_timeout_s),
                limits=httpx2.Limits(
                    max_connections=s.max_connections or None,
                    max_keepalive_connections=s.max_keepalive_connections,
                    keepalive_expiry=s.keepalive_expiry_s,
                ),
            )
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        model: str = "",
    ) -> UpstreamResponse:
        """Send a request and read the whole response; returns only on a 2xx status."""
        return await self._send(method, path, headers=headers, body=body, params=params, model=model, stream=False)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, headers: Mapping[str, str], body: Mapping[str, Any], model: str = ""
    ) -> AsyncIterator[UpstreamResponse]:
        """Open a streamed response (2xx only, body unread); leaving the block closes it at once."""
        response = await self._send(method, path, headers=headers, body=body, params=None, model=model, stream=True)
        try:
            yield response
        finally:
            if not response.close_now():
                # Shielded: a cancelled router must still drop the upstream connection right away.
                with anyio.CancelScope(shield=True):
                    await response.aclose()

    def json_body(self, response: UpstreamResponse, model: str) -> dict[str, Any]:
        """The 2xx response's JSON object, or :class:`UpstreamProtocolError`."""
        try:
            value = loads(response.content)
        except ValueError as exc:
            raise self.errors.protocol_error(response, model, "a body that is not JSON") from exc
        if not isinstance(value, dict):
            raise self.errors.protocol_error(response, model, "JSON that is not an object")
        return value

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        model: str,
        stream: bool,
    ) -> UpstreamResponse:
        url = self.settings.base_url + path
        content = _body_bytes(body) if body is not None else None
        retries = 0
        while True:
            outcome = await self._attempt(method, url, headers, content, params, model, stream=stream, retries=retries)
            if isinstance(outcome, UpstreamResponse):
                return outcome
            error = outcome
            if not error.retryable or retries >= self.settings.max_retries:
                raise error from error.__cause__
            if error.retry_after is not None and error.retry_after > self.settings.max_retry_after_s:
                raise error from error.__cause__
            delay = error.retry_after if error.retry_after is not None else self._backoff(retries)
            retries += 1
            logger.info(
                "%s %s %s failed (%s); retry %d/%d in %.2fs",
                self.provider,
                method,
                safe_url(url),
                f"HTTP {error.status}" if isinstance(error, UpstreamStatusError) else type(error).__name__,
                retries,
                self.settings.max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        params: Mapping[str, str] | None,
        model: str,
        *,
        stream: bool,
        retries: int,
    ) -> UpstreamResponse | UpstreamError:
        """One try: the response to keep, or the error to retry or raise (its ``__cause__`` set)."""
        direct, lean = self._direct, self._lean
        try:
            if lean is not None and content is not None and not params:
                # the transport itself, without httpx2's request and response models: a client's send adds
                # cookies, redirects, auth and event hooks that an API call does not use, and those models cost
                # more CPU than the whole HTTP exchange on the lean transport
                response = await lean.send(method, self._url(url), _raw_headers(headers), content, self._timeouts)
            elif direct is not None:
                request = httpx2.Request(
                    method, self._url(url), params=params, content=content, headers=headers, extensions=self._extensions
                )
                raw = await direct.handle_async_request(request)
                raw.request = request
                response = UpstreamResponse.wrap(raw)
            else:
                client = self.client()
                request = client.build_request(method, url, content=content, headers=headers, params=params)
                response = UpstreamResponse.wrap(await client.send(request, stream=True))
        except httpx2.HTTPError as exc:
            error = self.errors.transport_error(exc, model, retries=retries)
            error.__cause__ = exc
            return error
        if stream and response.status_code < 400:
            return response
        try:
            await response.aread()
        except httpx2.HTTPError as exc:
            error = self.errors.transport_error(exc, model, retries=retries)
            error.__cause__ = exc
            return error
        finally:
            if not response.close_now():
                await response.aclose()
        if response.status_code < 400:
            return response
        return self.errors.status_error(response, model, retries=retries)

    def _url(self, url: str) -> httpx2.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 64:  # paths with ids (batches) must not grow it without bound
                self._urls.clear()
            parsed = self._urls[url] = httpx2.URL(url)
        return parsed

    def _backoff(self, retries: int) -> float:
        s = self.settings
        ceiling = min(s.backoff_max_s, s.backoff_base_s * 2.0 ** min(retries, 30))
        # "Equal jitter": never less than half the step, so retries still back off.
        return ceiling * (0.5 + 0.5 * self._random())


def _body_bytes(body: Mapping[str, Any]) -> bytes:
    try:
        return dumps(body)
    except RecursionError:
        # orjson reads JSON nested 1024 deep, json.dumps (which writes what orjson does not past 254 levels)
        # stops short of that: such a body was read but cannot be written (json.loads refused it as it read)
        raise InvalidRequestError("request body: JSON nested too deeply") from None


def _raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Header names and values as sent: Latin-1, the bytes a client's header arrived as (a value outside it
    cannot be sent and fails like a value with a line break would)."""
    try:
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    except UnicodeEncodeError:
        raise httpx2.LocalProtocolError(
            "a request header contains a character that HTTP headers cannot carry (outside Latin-1); remove it"
        ) from None


def _default_random() -> float:
    return random.random()
