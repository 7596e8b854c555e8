"""The fake upstream as one ASGI application: routing, the optional key check, the request log."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final
from urllib.parse import parse_qsl

from pydantic import ValidationError

from tiered.fake_upstream import anthropic_api, openai_api
from tiered.fake_upstream.anthropic_api import ANTHROPIC
from tiered.fake_upstream.asgi import BAD_JSON, Receive, Scope, Send, WireExchange, parse_body, read_body
from tiered.fake_upstream.batches import BatchStore
from tiered.fake_upstream.cache import Clock, PromptCache
from tiered.fake_upstream.completion import Dialect, send_failure
from tiered.fake_upstream.faults import Failure, new_id
from tiered.fake_upstream.log import RequestLog, RequestRecord
from tiered.fake_upstream.openai_api import OPENAI
from tiered.fake_upstream.resolve import Runtime
from tiered.fake_upstream.scenario import Scenario

__all__ = ["FakeApp"]

_BATCHES: Final = "/v1/messages/batches"
_MODELS: Final = "/v1/models"


class FakeApp:
    """ASGI app of the fake upstream. ``scenario`` may be replaced at any time, from any thread (the fault
    counters start over); ``log`` holds every ``/v1`` request; :meth:`reset` clears log, counters, batches
    and the prompt cache. ``clock`` (seconds since the epoch) drives the prompt cache's TTLs and the date that
    decides which models are retired; tests pass their own to expire cache entries
    without sleeping. The ``/_fake/...`` endpoints expose the same controls over HTTP."""

    def __init__(self, scenario: Scenario | None = None, *, log_limit: int = 10_000, clock: Clock = time.time) -> None:
        self.cache = PromptCache(clock)
        self._runtime = Runtime(scenario or Scenario(), self.cache)
        self.log = RequestLog(log_limit)
        self.batches = BatchStore()
        self.closing = False  # set on shutdown: pending hangs and slow streams end at once

    @property
    def scenario(self) -> Scenario:
        return self._runtime.scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        self._runtime = Runtime(scenario, self.cache)

    def reset(self) -> None:
        self._runtime = Runtime(self._runtime.scenario, self.cache)
        self.cache.clear()
        self.log.clear()
        self.batches.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        start = asyncio.get_running_loop().time()
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        record = RequestRecord(new_id("req_01"), scope["method"], path, headers)
        raw = await read_body(receive)
        if raw is None:
            return
        body = parse_body(raw) if raw else None
        openai = path.startswith("/v1/chat/")
        ex = WireExchange(
            receive,
            send,
            record,
            # OpenAI names it x-request-id; both are sent so that any client finds one.
            id_headers=(b"request-id", b"x-request-id") if openai else (b"request-id",),
            closing=lambda: self.closing,
        )
        if path.startswith("/_fake/"):
            await self._control(ex, body)
            return
        record.body = raw.decode("utf-8", "replace") if body is BAD_JSON else body
        self.log.begin(record)
        try:
            dialect: Dialect = OPENAI if openai else ANTHROPIC
            failure = self._check_headers(headers, openai)
            if failure is not None:
                await send_failure(dialect, ex, failure)
                return
            await self._route(scope, ex, body, start, dialect)
        finally:
            await ex.close()
            self.log.end(record)

    def _check_headers(self, headers: dict[str, str], openai: bool) -> Failure | None:
        scenario = self._runtime.scenario
        if scenario.api_key is not None:
            key = headers.get("x-api-key")
            if key is None and headers.get("authorization", "").startswith("Bearer "):
                key = headers["authorization"][len("Bearer ") :]
            if key is None:
                return Failure(401, "authentication_error", "x-api-key header is required")
            if key != scenario.api_key:
                return Failure(401, "authentication_error", "invalid x-api-key")
        if scenario.require_anthropic_version and not openai and "anthropic-version" not in headers:
            return Failure(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    async def _route(self, scope: Scope, ex: WireExchange, body: Any, start: float, dialect: Dialect) -> None:
        runtime = self._runtime
        method, path = ex.record.method, ex.record.path.rstrip("/")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        base_url = f"{scope.get('scheme', 'http')}://{ex.record.headers.get('host', 'localhost')}"
        if method == "POST" and path == "/v1/messages":
            await anthropic_api.messages(runtime, ex, body, start)
        elif method == "POST" and path == "/v1/chat/completions":
            await openai_api.chat_completions(runtime, ex, body, start)
        elif method == "POST" and path == "/v1/messages/count_tokens":
            await anthropic_api.count_tokens(runtime, ex, body)
        elif method == "GET" and path == _MODELS:
            await anthropic_api.list_models(runtime, ex, query)
        elif method == "GET" and path.startswith(_MODELS + "/"):
            await anthropic_api.get_model(runtime, ex, path[len(_MODELS) + 1 :])
        elif path == _BATCHES and method == "POST":
            await self.batches.create(runtime, ex, body, base_url)
        elif path == _BATCHES and method == "GET":
            await self.batches.list(ex, query, base_url)
        elif path.startswith(_BATCHES + "/"):
            await self._batch_item(ex, method, path[len(_BATCHES) + 1 :], base_url)
        else:
            await send_failure(dialect, ex, Failure(404, "not_found_error", f"no route for {method} {path}"))

    async def _batch_item(self, ex: WireExchange, method: str, rest: str, base_url: str) -> None:
        batch_id, _, action = rest.partition("/")
        if method == "GET" and not action:
            await self.batches.retrieve(ex, batch_id, base_url)
        elif method == "GET" and action == "results":
            await self.batches.results(ex, batch_id)
        elif method == "POST" and action == "cancel":
            await self.batches.cancel(ex, batch_id, base_url)
        elif method == "DELETE" and not action:
            await self.batches.delete(ex, batch_id)
        else:
            failure = Failure(404, "not_found_error", f"no route for {method} {_BATCHES}/{rest}")
            await send_failure(ANTHROPIC, ex, failure)

    async def _control(self, ex: WireExchange, body: Any) -> None:
        method, path = ex.record.method, ex.record.path.rstrip("/")
        if method == "GET" and path == "/_fake/requests":
            await ex.json(200, [r.to_json() for r in self.log.snapshot()])
        elif method == "POST" and path == "/_fake/reset":
            self.reset()
            await ex.json(200, {"reset": True})
        elif method == "GET" and path == "/_fake/scenario":
            await ex.json(200, self.scenario.model_dump(mode="json"))
        elif method in ("PUT", "POST") and path == "/_fake/scenario":
            try:
                self.scenario = Scenario.model_validate(body)
            except ValidationError as exc:
                message = f"scenario: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}"
                await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", message))
                return
            await ex.json(200, self.scenario.model_dump(mode="json"))
        elif method == "GET" and path == "/_fake/health":
            await ex.json(200, {"status": "ok", "in_flight": self.log.in_flight})
        else:
            await send_failure(ANTHROPIC, ex, Failure(404, "not_found_error", f"no route for {method} {path}"))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
