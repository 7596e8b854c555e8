"""A transport that sends a response's head together with its body: one write where uvicorn makes two.

uvicorn's request-response cycle writes a response head on its own (one ``transport.write``) and then each
body message (another write each). For a JSON answer that is two system calls and, on a kept-alive connection,
two TCP segments, the second of which can meet the client's delayed ACK. :class:`CoalescingTransport` stands
between the protocol and the socket's transport and holds back any write that ends an HTTP head
(``\\r\\n\\r\\n``) until either the next write, which it then joins, or the end of the current event-loop step.

The rule needs no knowledge of the response: a whole answer (start and body sent in one step, as Starlette and
tiered's handlers do) leaves in one write; an event stream's head, the answer to ``HEAD``, a ``100 Continue``
or a chunked body's last chunk leave at the end of the step instead of at once (no byte is reordered, none
waits for the peer). ``close``, ``write_eof`` and ``abort`` deal with held bytes first. The check costs one
slice comparison per write; a held write costs one ``call_soon``.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CoalescingTransport"]

_HEAD_END = b"\r\n\r\n"


class CoalescingTransport(asyncio.Transport):
    """Wraps ``transport``: writes ending an HTTP head wait for the next write or the end of the loop step."""

    __slots__ = ("_held", "_loop", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        if data[-4:] != _HEAD_END:
            self._transport.write(data)
            return
        self._held = bytes(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def close(self) -> None:
        if self._transport.is_closing():
            self._held = None  # nothing can be written any more
        else:
            self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held is not None else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()
