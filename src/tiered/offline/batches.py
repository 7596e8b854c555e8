"""The Message Batches API for ``tiered eval --batch``: submit, poll with backoff, map results back.

Batched requests cost half the standard rate (see :mod:`tiered.offline.eval_prices`) and finish within 24
hours, usually within one. A *phase* (the triage calls, then the final-tier calls, then the judge calls) is
submitted as one batch per provider (split at :data:`MAX_BATCH_REQUESTS` requests or
:data:`MAX_BATCH_BYTES` of JSON, under the API's 100,000 requests and 256 MB), and polled until every batch
has ended. Each request's ``custom_id`` is its call key, so results map back to calls whatever their order.
Succeeded results go to the cache as they are read; errored, expired and canceled ones are reported as
failures, which a rerun submits again.

Only Anthropic providers have the Message Batches API; an ``openai`` provider is refused up front.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tiered.config import ProviderSettings
from tiered.errors import ConfigError, UpstreamStatusError
from tiered.offline.eval_cache import EvalCache, PendingBatch
from tiered.offline.eval_plan import CallReply, PlannedCall

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_REQUESTS",
    "BatchClient",
    "BatchResult",
    "BatchStatus",
    "PollSchedule",
    "run_phase",
]

MAX_BATCH_REQUESTS: Final = 10_000
MAX_BATCH_BYTES: Final = 100 * 1024 * 1024
_PATH: Final = "/v1/messages/batches"

Sleep = Callable[[float], Awaitable[None]]
ProgressFn = Callable[[int, str], None]


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """Poll after ``initial_s``, then ``factor`` times longer each time, never more than ``max_s`` apart."""

    initial_s: float = 10.0
    factor: float = 1.5
    max_s: float = 300.0

    def next(self, wait: float) -> float:
        return min(wait * self.factor, max(self.max_s, self.initial_s))


@dataclass(frozen=True, slots=True)
class BatchStatus:
    id: str
    processing_status: str  # in_progress, canceling, ended
    done: int  # requests whose result is known (succeeded, errored, canceled, expired)
    total: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    custom_id: str
    type: str  # succeeded, errored, canceled, expired
    message: dict[str, Any] | None
    error: str | None


class BatchClient:
    """Message Batches calls against one Anthropic provider, with the providers' retries and error mapping."""

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        from tiered.providers._http import HTTPCore, HTTPProviderSettings

        if settings.kind != "anthropic":
            raise ConfigError(
                f"provider {name!r} is of kind {settings.kind!r}; only Anthropic providers have the Message "
                "Batches API. Run without --batch, or route through an Anthropic provider."
            )
        self.name = name
        self._api_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self._core = HTTPCore(
            HTTPProviderSettings(
                base_url=settings.base_url,
                api_key=self._api_key,
                timeout_s=settings.timeout_s,
                connect_timeout_s=settings.connect_timeout_s,
                max_retries=settings.max_retries,
            ),
            provider=name,
            base_url_hint="ANTHROPIC_BASE_URL",
        )

    def _headers(self) -> dict[str, str]:
        from tiered.providers.anthropic import ANTHROPIC_VERSION

        headers = {
            "accept": "application/json",
            "content-type": "application/json",
            "user-agent": "tiered",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    async def create(self, requests: Sequence[Mapping[str, Any]]) -> BatchStatus:
        response = await self._core.request("POST", _PATH, headers=self._headers(), body={"requests": list(requests)})
        return _status(self._core.json_body(response, ""))

    async def retrieve(self, batch_id: str) -> BatchStatus:
        response = await self._core.request("GET", f"{_PATH}/{batch_id}", headers=self._headers())
        return _status(self._core.json_body(response, ""))

    async def results(self, batch_id: str) -> list[BatchResult]:
        # Read from this provider's base URL, not the results_url the API names: the key goes nowhere else.
        response = await self._core.request("GET", f"{_PATH}/{batch_id}/results", headers=self._headers())
        out: list[BatchResult] = []
        for line in response.content.splitlines():
            if line.strip():
                out.append(_result(json.loads(line)))
        return out

    async def aclose(self) -> None:
        await self._core.aclose()


def _status(body: Mapping[str, Any]) -> BatchStatus:
    counts = body.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    done = sum(int(counts.get(k) or 0) for k in ("succeeded", "errored", "canceled", "expired"))
    return BatchStatus(
        id=str(body.get("id")),
        processing_status=str(body.get("processing_status")),
        done=done,
        total=done + int(counts.get("processing") or 0),
    )


def _result(line: Any) -> BatchResult:
    custom_id = str(line.get("custom_id")) if isinstance(line, dict) else ""
    result = line.get("result") if isinstance(line, dict) else None
    if not isinstance(result, dict):
        return BatchResult(custom_id, "errored", None, "the batch result line has no result")
    kind = str(result.get("type"))
    message = result.get("message")
    if kind == "succeeded" and isinstance(message, dict):
        return BatchResult(custom_id, kind, message, None)
    error = result.get("error")
    detail = error.get("error") if isinstance(error, dict) else None
    if isinstance(detail, dict):
        text = f"{detail.get('type')}: {detail.get('message')}"
    else:
        text = {"expired": "the batch expired before this request ran", "canceled": "the batch was canceled"}.get(
            kind, f"batch result {kind}"
        )
    return BatchResult(custom_id, kind, None, text)


def _chunks(calls: Sequence[PlannedCall]) -> list[list[PlannedCall]]:
    chunks: list[list[PlannedCall]] = []
    current: list[PlannedCall] = []
    size = 0
    for call in calls:
        weight = len(json.dumps(call.body, separators=(",", ":"))) + 100
        if current and (len(current) >= MAX_BATCH_REQUESTS or size + weight > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(call)
        size += weight
    if current:
        chunks.append(current)
    return chunks


async def run_phase(
    phase: str,
    calls: Sequence[PlannedCall],
    cache: EvalCache,
    clients: Mapping[str, BatchClient],
    *,
    sleep: Sleep,
    poll: PollSchedule,
    progress: ProgressFn | None = None,
) -> dict[str, str]:
    """Answer every call of ``calls`` that has no cached reply through batches; return failures by key.

    Batches this phase submitted in an interrupted run are polled, not submitted again. ``progress`` is
    told how many of the phase's uncached calls have a result, and a note (the batch ids and status).
    """
    todo = {c.key: c for c in calls if c.key not in cache}
    running = await _resumed(phase, todo, cache, clients)
    running += await _submitted(phase, todo, running, cache, clients)
    failures: dict[str, str] = {}
    finished = 0
    wait = poll.initial_s
    while running:
        in_flight = 0
        still: list[PendingBatch] = []
        notes: list[str] = []
        for batch in running:
            client = clients[batch.provider]
            status = await client.retrieve(batch.batch_id)
            if status.processing_status != "ended":
                still.append(batch)
                in_flight += status.done
                notes.append(f"{batch.batch_id} {status.processing_status}")
                continue
            await _collect(batch, client, todo, cache, failures)
            finished += len(batch.keys)
        running = still
        if progress is not None:
            progress(finished + in_flight, ", ".join(notes))
        if running:
            await sleep(wait)
            wait = poll.next(wait)
    return failures


async def _resumed(
    phase: str, todo: Mapping[str, PlannedCall], cache: EvalCache, clients: Mapping[str, BatchClient]
) -> list[PendingBatch]:
    """The batches an interrupted run of ``phase`` submitted that still hold calls to answer; the others (done
    with, or gone upstream) are forgotten."""
    running: list[PendingBatch] = []
    for batch in cache.pending_batches(phase):
        if not any(key in todo for key in batch.keys):
            cache.end_batch(batch.batch_id)
            continue
        try:
            await clients[batch.provider].retrieve(batch.batch_id)
        except UpstreamStatusError as exc:
            if exc.status != 404:
                raise
            cache.end_batch(batch.batch_id)  # gone (deleted, or another upstream): submit its requests again
            continue
        running.append(batch)
    return running


async def _submitted(
    phase: str,
    todo: Mapping[str, PlannedCall],
    running: Sequence[PendingBatch],
    cache: EvalCache,
    clients: Mapping[str, BatchClient],
) -> list[PendingBatch]:
    """New batches, per provider and in chunks, for the calls of ``todo`` no running batch holds."""
    covered = {key for batch in running for key in batch.keys}
    by_provider: dict[str, list[PlannedCall]] = {}
    for key, call in todo.items():
        if key not in covered:
            by_provider.setdefault(call.provider, []).append(call)
    submitted: list[PendingBatch] = []
    for provider, group in by_provider.items():
        for chunk in _chunks(group):
            status = await clients[provider].create([{"custom_id": c.key, "params": c.body} for c in chunk])
            batch = PendingBatch(status.id, provider, phase, tuple(c.key for c in chunk))
            cache.add_batch(batch)
            submitted.append(batch)
    return submitted


async def _collect(
    batch: PendingBatch,
    client: BatchClient,
    todo: Mapping[str, PlannedCall],
    cache: EvalCache,
    failures: dict[str, str],
) -> None:
    """Cache the replies of an ended ``batch``; a request without one goes to ``failures``."""
    seen: set[str] = set()
    for result in await client.results(batch.batch_id):
        if result.custom_id not in todo:
            continue
        seen.add(result.custom_id)
        if result.message is not None:
            cache.put(result.custom_id, CallReply(result.message, batch=True))
        else:
            failures[result.custom_id] = result.error or "no result"
    for key in batch.keys:
        if key in todo and key not in seen:
            failures[key] = f"batch {batch.batch_id} returned no result for this request"
    cache.end_batch(batch.batch_id)
