"""The provider seam: the only place tiered talks to a model over the network.

A provider speaks the Anthropic Messages format to tiered whatever it speaks upstream: the Anthropic adapter
passes bodies through, the OpenAI-compatible adapter translates both ways. Bodies are plain JSON mappings so
that fields tiered does not know are forwarded untouched.

Errors are raised as :class:`tiered.errors.UpstreamError` subclasses, never as foreign exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..fastjson import loads, loads_many

__all__ = [
    "Provider",
    "ProviderResponse",
    "ProviderStream",
    "StreamEvent",
    "predecode",
    "ready_events",
    "ready_pairs",
]


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    """A complete (non-streamed) Messages response."""

    body: dict[str, Any]
    status: int = 200
    request_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StreamEvent:
    """One server-sent event of a Messages stream.

    ``data`` is the raw JSON text so that a relay can forward it byte for byte; :meth:`json` parses it once.
    """

    event: str
    data: bytes
    _parsed: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        """The event's data as a JSON object; data that is not JSON is the provider breaking its API."""
        if self._parsed is None:
            try:
                value = loads(self.data)
            except (ValueError, RecursionError) as exc:
                from ..errors import UpstreamProtocolError

                raise UpstreamProtocolError(
                    f"the upstream sent a {self.event!r} event whose data is not JSON; retry the request"
                ) from exc
            self._parsed = value if isinstance(value, dict) else {"value": value}
        return self._parsed

    def encode(self) -> bytes:
        """The event as SSE wire bytes."""
        return b"event: " + self.event.encode() + b"\ndata: " + self.data + b"\n\n"


class ProviderStream(Protocol):
    """An open Messages stream. Iterate it for events; it ends after ``message_stop`` or raises."""

    @property
    def request_id(self) -> str | None: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def __aiter__(self) -> AsyncIterator[StreamEvent]: ...


def predecode(events: list[StreamEvent]) -> None:
    """Decode the data of ``events`` in one call, so that their :meth:`StreamEvent.json` costs nothing. If one
    of them is not a JSON object nothing is decoded: each then decodes (and the bad one fails) on its own."""
    todo = [event for event in events if event._parsed is None]
    values = loads_many([event.data for event in todo]) if len(todo) > 1 else None
    if values is None or not all(isinstance(value, dict) for value in values):
        return
    for event, value in zip(todo, values, strict=True):
        event._parsed = value


def ready_events(stream: object) -> list[StreamEvent]:
    """The events ``stream`` has already received, taken without waiting (its optional ``ready()``): a reader
    handles them in one pass instead of one await each."""
    ready = getattr(stream, "ready", None)
    if ready is None:
        return []
    events: list[StreamEvent] = ready()
    return events


def ready_pairs(stream: object) -> list[tuple[str, bytes]]:
    """:func:`ready_events` as ``(name, data)`` pairs, without making events where ``stream`` can (its optional
    ``ready_pairs()``)."""
    take = getattr(stream, "ready_pairs", None)
    if take is None:
        return [(event.event, event.data) for event in ready_events(stream)]
    pairs: list[tuple[str, bytes]] = take()
    return pairs


class Provider(Protocol):
    """A model endpoint. ``headers`` carries per-request extras (client key in pass-through auth,
    ``anthropic-version``, ``anthropic-beta``)."""

    @property
    def name(self) -> str: ...

    async def send(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> ProviderResponse: ...

    def stream(
        self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> AbstractAsyncContextManager[ProviderStream]:
        """Open a stream (``body`` gets ``stream: true``). Errors before the first event are raised on enter,
        after retries; errors mid-stream are raised from iteration and never retried."""
        ...

    async def aclose(self) -> None: ...
