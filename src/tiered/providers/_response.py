"""An upstream's response as the providers read it: status, headers and the body, whole or chunk by chunk.

The lean transport builds one directly (:meth:`tiered.providers._transport.LeanTransport.send`): no httpx2
``Request`` or ``Response`` per call, and the body comes straight from the connection instead of through
httpx2's content decoders (together about a twentieth of a pass-through request's CPU). Any other transport's
``httpx2.Response`` is wrapped (:meth:`UpstreamResponse.wrap`), so the providers read both the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import Protocol, TypeVar, overload

import httpx2

__all__ = ["Body", "ResponseHeaders", "UpstreamResponse"]

_T = TypeVar("_T")


class ResponseHeaders(Mapping[str, str]):
    """A response's headers as the lean transport received them, read like ``httpx2.Headers``: names are
    case-insensitive and a repeated header's values are joined with ``", "``. The lookup table is built on the
    first read (a proxy reads one or two headers of most responses)."""

    __slots__ = ("_table", "raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._table: dict[str, str] | None = None

    def _lookup(self) -> dict[str, str]:
        table = self._table
        if table is None:
            table = {}
            for name, value in self.raw:
                key = name.decode("latin-1").lower()
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    text = value.decode("latin-1")
                table[key] = f"{table[key]}, {text}" if key in table else text
            self._table = table
        return table

    def __getitem__(self, key: str) -> str:
        return self._lookup()[key.lower()]

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...
    def get(self, key: str, /, default: object = None) -> object:
        return self._lookup().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def __repr__(self) -> str:
        return f"ResponseHeaders({self._lookup()!r})"


class Body(Protocol):
    """A response body being received."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def read_quietly(self) -> bytes:
        """The next bytes of the body (``b""`` at its end), possibly many chunks at once."""
        ...

    @property
    def complete(self) -> bool:
        """The whole body has arrived (closing now keeps the connection)."""
        ...

    def close_now(self) -> bool:
        """Close without waiting; ``False`` when :meth:`aclose` must still be awaited to finish closing."""
        ...

    async def aclose(self) -> None: ...


class UpstreamResponse:
    """Status, headers, and a body to read once: :meth:`aread` (then :attr:`content`) or :meth:`aiter_bytes`."""

    __slots__ = ("_body", "_content", "headers", "reason_phrase", "status_code")

    def __init__(
        self, status_code: int, headers: httpx2.Headers | ResponseHeaders, body: Body, *, reason_phrase: str = ""
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.reason_phrase = reason_phrase
        self._body = body
        self._content: bytes | None = None

    @classmethod
    def wrap(cls, response: httpx2.Response) -> UpstreamResponse:
        """An ``httpx2.Response`` (any transport; its content decoding applies)."""
        return cls(response.status_code, response.headers, _HTTPXBody(response), reason_phrase=response.reason_phrase)

    @property
    def content(self) -> bytes:
        """The body, once :meth:`aread` has read it."""
        if self._content is None:
            raise RuntimeError("the response body has not been read (call aread() first)")
        return self._content

    async def aread(self) -> bytes:
        if self._content is None:
            chunks = [chunk async for chunk in self._body]
            self._content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._content

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return aiter(self._body)

    async def read_quietly(self) -> bytes:
        """The body's next bytes not yet taken by :meth:`aiter_bytes` (``b""`` at its end). With the lean
        transport a reader that acts only on the whole is woken once for what arrives until the end of the
        body (or a high-water mark), not once per chunk."""
        return await self._body.read_quietly()

    @property
    def complete(self) -> bool:
        return self._body.complete

    def close_now(self) -> bool:
        return self._body.close_now()

    async def aclose(self) -> None:
        await self._body.aclose()


class _HTTPXBody:
    __slots__ = ("_chunks", "_response")

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response
        self._chunks: AsyncGenerator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = chunks = _chunks(self._response)
        return chunks

    async def read_quietly(self) -> bytes:
        chunks = self._chunks if self._chunks is not None else aiter(self)
        return await anext(chunks, b"")

    @property
    def complete(self) -> bool:
        # the lean transport's stream under an httpx2 client knows; other transports do not say
        return bool(getattr(self._response.stream, "complete", False))

    def close_now(self) -> bool:
        return False

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()
        await self._response.aclose()


async def _chunks(response: httpx2.Response) -> AsyncGenerator[bytes]:
    async for chunk in response.aiter_bytes():
        yield chunk
