"""How tiered's SSE decoder compares with httpx2's EventSource on a long Messages stream (not a test).

Run: ``PYTHONPATH=src .venv/bin/python -m tests.providers.bench_sse``. It prints the best of a few runs for
each approach; numbers depend on the machine, only their ratio matters.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2

from tiered.providers._sse import SSEDecoder


def long_stream(deltas: int = 20_000) -> bytes:
    parts = [b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n']
    for i in range(deltas):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word {i} "}}
        parts.append(b"event: content_block_delta\ndata: " + json.dumps(delta).encode() + b"\n\n")
        if i % 100 == 0:
            parts.append(b'event: ping\ndata: {"type": "ping"}\n\n')
    parts.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return b"".join(parts)


def small_chunks(body: bytes, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(body):
        size = rng.randint(1, 300)
        chunks.append(body[i : i + size])
        i += size
    return chunks


async def main() -> None:
    chunks = small_chunks(long_stream())

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:

        async def event_source() -> int:
            async with client.stream("POST", "http://upstream.test/v1/messages") as response:
                return sum([1 async for _ in httpx2.EventSource(response)])

        async def decoder() -> int:
            async with client.stream("POST", "http://upstream.test/v1/messages") as response:
                sse, count = SSEDecoder(), 0
                async for chunk in response.aiter_bytes():
                    count += len(sse.feed(chunk))
                return count + len(sse.flush())

        approaches: dict[str, Callable[[], Awaitable[int]]] = {
            "httpx2 EventSource": event_source,
            "tiered SSEDecoder": decoder,
        }
        for name, run in approaches.items():
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                count = await run()
                best = min(best, time.perf_counter() - start)
            print(f"{name:20s} {count} events, best {best * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
