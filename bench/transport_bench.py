"""Client-side CPU per upstream request: httpx2's default transport against tiered's lean transport.

    python bench/transport_bench.py [--requests 2000] [--streams 500] [--rounds 3] [--loops asyncio,uvloop]

The fake upstream runs in a child process on a loopback port, so only the client's CPU is counted (user +
system time of this process, from ``getrusage``). For each event loop it measures, per request:

* ``json``: ``client.post(json=...)`` and ``response.json()``, the way the proxy's non-streamed calls go;
* ``sse``: ``client.stream(...)`` read to the end with ``aiter_bytes`` (a 30-token Messages stream);
* ``provider json`` / ``provider sse``: the same through ``AnthropicProvider`` (headers, retries wrapper,
  SSE decoding), which is what the router pays;
* ``raw asyncio``: a hand-written request/response on one kept-alive ``asyncio`` stream; ``no-op
  transport``: the httpx2 client layer alone (a transport that answers from memory); ``raw + no-op``: the
  two in turn, which is the floor for a JSON call through httpx2 (the sum of the two rows understates it:
  code that runs between socket waits finds colder caches than in a tight loop).

Every transport sees warm keep-alive connections (a warm-up precedes each measurement). The transports take
turns for ``--rounds`` rounds and the median of each is shown, which damps the noise of a busy machine (CPU
time grows when other processes compete for the caches). Compare rows of one run, not runs of different
machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import tiered  # noqa: F401
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx2

from tiered.providers import AnthropicProvider, HTTPProviderSettings
from tiered.providers._transport import LeanTransport

PROMPT = "[[fake confidence=0.95 tokens=30]] hi"
BODY: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": PROMPT}],
}
STREAM_BODY = {**BODY, "stream": True}
CANNED = json.dumps(
    {"id": "msg", "content": [{"type": "text", "text": "x" * 200}], "usage": {"input_tokens": 10, "output_tokens": 20}}
).encode()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def fake_upstream() -> Iterator[str]:
    port = free_port()
    code = f"from tiered.fake_upstream import run; run(port={port})"
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait()


async def measure(count: int, once: Callable[[], Awaitable[None]]) -> float:
    """CPU microseconds per call of ``once``, after a warm-up."""
    for _ in range(min(100, count)):
        await once()
    start = cpu_s()
    for _ in range(count):
        await once()
    return (cpu_s() - start) / count * 1e6


class CannedTransport(httpx2.AsyncBaseTransport):
    """Answers every request from memory: what is left is the httpx2 client layer."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return httpx2.Response(200, headers={"content-type": "application/json", "request-id": "r"}, content=CANNED)


@contextlib.asynccontextmanager
async def client_for(kind: str) -> AsyncIterator[httpx2.AsyncClient]:
    transport = LeanTransport() if kind == "lean" else None
    async with httpx2.AsyncClient(transport=transport, timeout=30) as client:
        yield client


async def bench_client(url: str, kind: str, requests: int, streams: int) -> dict[str, float]:
    results: dict[str, float] = {}
    async with client_for(kind) as client:

        async def post() -> None:
            response = await client.post(f"{url}/v1/messages", json=BODY)
            response.json()

        async def stream() -> None:
            async with client.stream("POST", f"{url}/v1/messages", json=STREAM_BODY) as response:
                async for _ in response.aiter_bytes():
                    pass

        provider = AnthropicProvider(HTTPProviderSettings(url, api_key="test"), client=client)

        async def provider_send() -> None:
            await provider.send(BODY)

        async def provider_stream() -> None:
            async with provider.stream(BODY) as events:
                async for _ in events:
                    pass

        results["json"] = await measure(requests, post)
        results["sse"] = await measure(streams, stream)
        results["provider json"] = await measure(requests, provider_send)
        results["provider sse"] = await measure(streams, provider_stream)
    return results


async def bench_floor(url: str, requests: int) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    payload = json.dumps(BODY).encode()
    head = f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    request = f"{head}content-length: {len(payload)}\r\n\r\n".encode() + payload

    async def raw() -> None:
        writer.write(request)
        response_head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in response_head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        json.loads(await reader.readexactly(length))

    async with httpx2.AsyncClient(transport=CannedTransport()) as client:

        async def canned() -> None:
            response = await client.post(f"{url}/v1/messages", json=BODY)
            response.json()

        async def both() -> None:
            await raw()
            await canned()

        results = {"raw asyncio": await measure(requests, raw), "no-op transport": await measure(requests, canned)}
        results["raw + no-op"] = await measure(requests, both)
    writer.close()
    return results


async def run_all(url: str, requests: int, streams: int, rounds: int) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for kind in ("default", "lean", "floor"):
            if kind == "floor":
                results = await bench_floor(url, requests)
            else:
                results = await bench_client(url, kind, requests, streams)
            for row, value in results.items():
                samples.setdefault(kind, {}).setdefault(row, []).append(value)
    return {kind: {row: statistics.median(values) for row, values in rows.items()} for kind, rows in samples.items()}


def run_on(loop_name: str, coro: Awaitable[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop_name == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="JSON requests per measurement")
    parser.add_argument("--streams", type=int, default=500, help="SSE streams per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per transport (the median is shown)")
    parser.add_argument("--loops", default="asyncio,uvloop", help="event loops to try, comma-separated")
    args = parser.parse_args()
    with fake_upstream() as url:
        for loop_name in args.loops.split(","):
            table = run_on(loop_name, run_all(url, args.requests, args.streams, args.rounds))
            print(f"\n{loop_name}: client CPU per request (µs)")
            print(f"  {'':16}{'default':>10}{'lean':>10}{'ratio':>8}")
            for row in ("json", "sse", "provider json", "provider sse"):
                default, lean = table["default"][row], table["lean"][row]
                print(f"  {row:16}{default:10.1f}{lean:10.1f}{default / lean:7.1f}x")
            for row, value in table["floor"].items():
                print(f"  {row:16}{value:10.1f}")


if __name__ == "__main__":
    main()
