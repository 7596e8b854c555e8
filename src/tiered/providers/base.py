"""The provider seam: the only place tiered talks to a model over the network.

A provider speaks the Anthropic Messages format to tiered whatever it speaks upstream: the Anthropic adapter
passes bodies through, the OpenAI-compatible adapter translates both ways. Bodies are plain JSON mappings so
that fields tiered does not know are forwarded untouched.

Errors are raised as :class:`tiered.errors.UpstreamError` subclasses, never as foreign exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from ..fastjson import loads, loads_many

__all__ = [
    "Buffered",
    "Provider",
    "ProviderResponse",
    "ProviderStream",
    "ReadyEvents",
    "ReadyPairs",
    "RestPairs",
    "StreamCapabilities",
    "StreamEvent",
    "buffered_count",
    "buffered_source",
    "capabilities",
    "has_rest_pairs",
    "pairs_taker",
    "predecode",
    "ready_events",
    "ready_pairs",
    "ready_taker",
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


class ReadyEvents(Protocol):
    """A stream that can hand over the events it has already received, without waiting."""

    def ready(self) -> list[StreamEvent]: ...


class ReadyPairs(Protocol):
    """A stream that can hand over its received events as ``(name, data)`` pairs, without making events."""

    def ready_pairs(self) -> list[tuple[str, bytes]]: ...


class RestPairs(Protocol):
    """A stream that can read the rest of its body in one go, as ``(name, data)`` pairs."""

    async def rest_pairs(self) -> list[tuple[str, bytes]]: ...


class Buffered(Protocol):
    """A stream that can say how many received events wait in its buffer."""

    @property
    def buffered(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StreamCapabilities:
    """Which of the optional stream protocols a stream's class implements."""

    ready: bool
    ready_pairs: bool
    rest_pairs: bool
    buffered: bool


_CAPABILITIES: dict[type, StreamCapabilities] = {}


def capabilities(stream: object) -> StreamCapabilities:
    """The optional protocols ``stream`` implements: checked once per class (a structural check is slow)."""
    kind = type(stream)
    found = _CAPABILITIES.get(kind)
    if found is None:
        found = _CAPABILITIES[kind] = StreamCapabilities(
            ready=callable(getattr(kind, "ready", None)),
            ready_pairs=callable(getattr(kind, "ready_pairs", None)),
            rest_pairs=callable(getattr(kind, "rest_pairs", None)),
            buffered=isinstance(getattr(kind, "buffered", None), property),
        )
    return found


def has_ready(stream: object) -> TypeGuard[ReadyEvents]:
    return capabilities(stream).ready


def has_ready_pairs(stream: object) -> TypeGuard[ReadyPairs]:
    return capabilities(stream).ready_pairs


def has_rest_pairs(stream: object) -> TypeGuard[RestPairs]:
    return capabilities(stream).rest_pairs


def has_buffered(stream: object) -> TypeGuard[Buffered]:
    return capabilities(stream).buffered


def _no_events() -> list[Any]:
    return []


def ready_taker(stream: object) -> Callable[[], list[StreamEvent]]:
    """:func:`ready_events` of ``stream`` as a function, resolved once (a reader calls it per event)."""
    return stream.ready if has_ready(stream) else _no_events


def pairs_taker(stream: object) -> Callable[[], list[tuple[str, bytes]]]:
    """:func:`ready_pairs` of ``stream`` as a function, resolved once (a reader calls it per event)."""
    if has_ready_pairs(stream):
        return stream.ready_pairs
    if has_ready(stream):
        ready = stream.ready
        return lambda: [(event.event, event.data) for event in ready()]
    return _no_events


def buffered_source(stream: object) -> Buffered | None:
    """``stream`` if it can say how many received events wait in its buffer (:class:`Buffered`)."""
    return stream if has_buffered(stream) else None


def ready_events(stream: object) -> list[StreamEvent]:
    """The events ``stream`` has already received, taken without waiting (:class:`ReadyEvents`): a reader
    handles them in one pass instead of one await each."""
    return stream.ready() if has_ready(stream) else []


def ready_pairs(stream: object) -> list[tuple[str, bytes]]:
    """:func:`ready_events` as ``(name, data)`` pairs, without making events where ``stream`` can
    (:class:`ReadyPairs`)."""
    if has_ready_pairs(stream):
        return stream.ready_pairs()
    return [(event.event, event.data) for event in ready_events(stream)]


def buffered_count(stream: object) -> int:
    """How many received events wait in ``stream``'s buffer (:class:`Buffered`); 0 when it cannot say."""
    return stream.buffered if has_buffered(stream) else 0


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
