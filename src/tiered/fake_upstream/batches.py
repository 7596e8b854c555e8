"""Message Batches: create, retrieve, list, cancel, delete and results (JSONL).

Each request is answered when the batch is created, with the same script as a live request (latency aside);
the batch reports ``in_progress`` until the scenario's ``batch_delay_s`` has passed. HTTP-status faults become
``errored`` results, a ``timeout`` fault an ``expired`` one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from tiered.fake_upstream.anthropic_api import ANTHROPIC, error_json, message_json, prepare
from tiered.fake_upstream.asgi import BAD_JSON, WireExchange, json_bytes
from tiered.fake_upstream.completion import send_failure
from tiered.fake_upstream.faults import Failure, new_id, status_failure
from tiered.fake_upstream.generate import build_reply
from tiered.fake_upstream.resolve import Runtime

__all__ = ["Batch", "BatchStore"]

_DAY_S: Final = 24 * 3600.0
_RESULT_TYPES: Final = ("succeeded", "errored", "canceled", "expired")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Batch:
    id: str
    created_at: float
    ends_at: float
    results: list[dict[str, Any]]
    cancel_initiated_at: float | None = None

    def status(self, now: float) -> str:
        if now >= self.ends_at:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    def to_json(self, base_url: str, now: float, status: str | None = None) -> dict[str, Any]:
        status = status or self.status(now)
        ended = status == "ended"
        counts = dict.fromkeys(_RESULT_TYPES, 0)
        if ended:
            for line in self.results:
                counts[line["result"]["type"]] += 1
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": {"processing": 0 if ended else len(self.results), **counts},
            "ended_at": _iso(self.ends_at) if ended else None,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.created_at + _DAY_S),
            "archived_at": None,
            "cancel_initiated_at": _iso(self.cancel_initiated_at) if self.cancel_initiated_at else None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


def _errored(failure: Failure) -> dict[str, Any]:
    return {"type": "errored", "error": error_json(failure, new_id("req_01"))}


def _result(runtime: Runtime, params: Any) -> dict[str, Any]:
    prepared = prepare(runtime, params)
    if isinstance(prepared, Failure):
        return _errored(prepared)
    prompt, resolution = prepared
    fault = resolution.fault
    if fault is not None:
        failure = status_failure(fault)
        if failure is not None:
            return _errored(failure)
        if fault.kind in ("timeout", "stall"):
            return {"type": "expired"}
        if fault.kind in ("drop", "malformed", "stream_error"):
            return _errored(Failure(500, "api_error", "Internal server error"))
    reply = build_reply(prompt, resolution, runtime.scenario)
    return {"type": "succeeded", "message": message_json(reply, prompt.model)}


def _check_requests(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body: Input should be a JSON object"
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        return "requests: Input should be a non-empty list"
    seen: set[str] = set()
    for i, item in enumerate(requests):
        if not isinstance(item, dict):
            return f"requests.{i}: Input should be an object"
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 64:
            return f"requests.{i}.custom_id: Input should be a string of 1 to 64 characters"
        if custom_id in seen:
            return f"requests.{i}.custom_id: duplicate custom_id {custom_id!r}"
        seen.add(custom_id)
        if not isinstance(item.get("params"), dict):
            return f"requests.{i}.params: Field required"
    return None


@dataclass
class BatchStore:
    """The batches created on one fake, newest last."""

    batches: dict[str, Batch] = field(default_factory=dict)

    def clear(self) -> None:
        self.batches.clear()

    async def create(self, runtime: Runtime, ex: WireExchange, body: Any, base_url: str) -> None:
        problem = "body: the request body is not valid JSON" if body is BAD_JSON else _check_requests(body)
        if problem is not None:
            await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", problem))
            return
        results = [
            {"custom_id": item["custom_id"], "result": _result(runtime, item["params"])} for item in body["requests"]
        ]
        now = time.time()
        batch = Batch(new_id("msgbatch_01"), now, now + runtime.scenario.batch_delay_s, results)
        self.batches[batch.id] = batch
        # A new batch always reports in_progress, as the real API does, even when it ends at once.
        await ex.json(200, batch.to_json(base_url, now, "in_progress"))

    async def _find(self, ex: WireExchange, batch_id: str) -> Batch | None:
        batch = self.batches.get(batch_id)
        if batch is None:
            await send_failure(ANTHROPIC, ex, Failure(404, "not_found_error", f"message batch {batch_id!r}"))
        return batch

    async def retrieve(self, ex: WireExchange, batch_id: str, base_url: str) -> None:
        batch = await self._find(ex, batch_id)
        if batch is not None:
            await ex.json(200, batch.to_json(base_url, time.time()))

    async def list(self, ex: WireExchange, query: dict[str, str], base_url: str) -> None:
        now = time.time()
        ordered = list(reversed(self.batches.values()))
        ids = [b.id for b in ordered]
        if query.get("after_id") in ids:
            ordered = ordered[ids.index(query["after_id"]) + 1 :]
        elif query.get("before_id") in ids:
            ordered = ordered[: ids.index(query["before_id"])]
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 20
        page = [b.to_json(base_url, now) for b in ordered[: max(1, limit)]]
        await ex.json(
            200,
            {
                "data": page,
                "has_more": len(ordered) > len(page),
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )

    async def cancel(self, ex: WireExchange, batch_id: str, base_url: str) -> None:
        batch = await self._find(ex, batch_id)
        if batch is None:
            return
        now = time.time()
        if batch.status(now) == "ended":
            await ex.json(200, batch.to_json(base_url, now))
            return
        batch.cancel_initiated_at = now
        batch.ends_at = now
        batch.results = [{"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch.results]
        await ex.json(200, batch.to_json(base_url, now, "canceling"))

    async def delete(self, ex: WireExchange, batch_id: str) -> None:
        batch = await self._find(ex, batch_id)
        if batch is None:
            return
        if batch.status(time.time()) != "ended":
            message = f"message batch {batch_id!r} is still processing: cancel it before deleting it"
            await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", message))
            return
        del self.batches[batch_id]
        await ex.json(200, {"id": batch_id, "type": "message_batch_deleted"})

    async def results(self, ex: WireExchange, batch_id: str) -> None:
        batch = await self._find(ex, batch_id)
        if batch is None:
            return
        if batch.status(time.time()) != "ended":
            message = f"message batch {batch_id!r} has no results yet: its processing has not ended"
            await send_failure(ANTHROPIC, ex, Failure(400, "invalid_request_error", message))
            return
        body = b"".join(json_bytes(line) + b"\n" for line in batch.results)
        await ex.respond(200, body, content_type=b"application/x-jsonl")
