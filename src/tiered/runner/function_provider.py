"""A provider backed by a function, for tests and experiments: the runner without sockets.

``FunctionProvider(answer)`` calls ``answer(body)`` (a Messages request, as tiered would send it upstream) for a
Messages response, and serves it whole (:meth:`~FunctionProvider.send`) or as the stream that carries it
(:meth:`~FunctionProvider.stream`: ``message_start``, one block's deltas ``chunk`` characters at a time, ...,
``message_stop``). A function that raises :class:`~tiered.errors.UpstreamError` fails the call as an upstream
would. :class:`FunctionProviders` gives it to every tier (it is a
:class:`~tiered.runner.deps.ProviderSource`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..providers.base import ProviderResponse, StreamEvent
from .sse_events import sse

if TYPE_CHECKING:
    from ..config import TierSettings

__all__ = ["Answer", "FunctionProvider", "FunctionProviders"]

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(slots=True)
class _Stream:
    events: list[StreamEvent]
    request_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamEvent]:
        for event in self.events:
            yield event


class FunctionProvider:
    def __init__(self, answer: Answer, *, name: str = "function", chunk: int = 8) -> None:
        self._answer = answer
        self._name = name
        self._chunk = chunk
        self.requests: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self._name

    async def send(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        self.requests.append(body)
        return ProviderResponse(self._answer(body), request_id=f"req_{len(self.requests)}")

    @asynccontextmanager
    async def stream(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> AsyncIterator[_Stream]:
        self.requests.append({**body, "stream": True})
        yield _Stream(self.events_of(self._answer(body)), request_id=f"req_{len(self.requests)}")

    def events_of(self, message: dict[str, Any]) -> list[StreamEvent]:
        """``message`` as the Messages stream that carries it (its text blocks, ``chunk`` characters a delta)."""
        usage = dict(message.get("usage") or {})
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
        events = [sse("message_start", {"type": "message_start", "message": {**start, "usage": usage}})]
        for index, block in enumerate(message.get("content") or []):
            text = str(block.get("text") or "")
            events.append(
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                )
            )
            for at in range(0, len(text), self._chunk):
                delta = {"type": "text_delta", "text": text[at : at + self._chunk]}
                events.append(
                    sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                )
            events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        end = {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")}
        output = {"output_tokens": usage.get("output_tokens", 0)}
        events.append(sse("message_delta", {"type": "message_delta", "delta": end, "usage": output}))
        events.append(sse("message_stop", {"type": "message_stop"}))
        return events

    async def aclose(self) -> None:
        return None


class FunctionProviders:
    """The same :class:`FunctionProvider` for every tier."""

    def __init__(self, provider: FunctionProvider) -> None:
        self.provider = provider

    def for_tier(self, tier: TierSettings, *, triage: bool) -> FunctionProvider:
        return self.provider
