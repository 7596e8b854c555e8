"""Instructions per response of the server protocol alone (:mod:`tiered.server.protocol`), counted by callgrind.

    python bench/protocol_instructions.py [--requests 2000] [--src DIR]

The whole proxy's count (``bench/instructions.py``) moves by a few percent between identical runs (its threads
and the decision writer do not run the same way twice), more than the protocol's share of a request. This feeds
keep-alive requests straight to the protocol, one per read, over a transport that only counts writes, with an
app that answers each at once: a JSON answer of known length, or an event stream of 20 events. One process, one
thread, no socket: the count repeats to the instruction. Each shape runs twice under callgrind, with no requests
and with ``--requests``; the difference, divided, is what one response costs. ``--src`` runs another checkout's
``src`` (the module docstring of :mod:`tiered.server.protocol` quotes the comparison that keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REQUEST = (
    b"POST /v1/messages HTTP/1.1\r\nhost: tiered\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
    b"content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
)
EVENTS = 20


class CountingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 1), "peername": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def json_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def stream_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for _ in range(EVENTS):
        await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def serve(shape: str, requests: int) -> int:
    import uvicorn
    from uvicorn.server import ServerState

    from tiered.server import protocol

    # BoundedHttpToolsProtocol: its name in checkouts before issue #17, for --src
    kind = getattr(protocol, "TieredHttpProtocol", None) or protocol.BoundedHttpToolsProtocol  # type: ignore[attr-defined]
    app = json_app if shape == "json" else stream_app
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = kind(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = CountingTransport()
    server.connection_made(transport)
    for _ in range(requests):
        server.data_received(REQUEST)
        for _ in range(4):  # the request's task runs and answers
            await asyncio.sleep(0)
    server.connection_lost(None)
    return transport.writes


def counted(shape: str, requests: int, src: Path) -> tuple[int, int]:
    """Instructions of a whole run under callgrind, and the writes the transport saw."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(src)}
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__]
        run = subprocess.run(
            [*command, "--child", shape, str(requests)], env=env, capture_output=True, text=True, check=True
        )
        found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert found is not None, "no instruction count in callgrind's output"
        return int(found.group(1)), int(run.stdout.strip())


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(asyncio.run(serve(sys.argv[2], int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args()
    for shape in ("json", "stream"):
        idle, _ = counted(shape, 0, args.src)
        busy, writes = counted(shape, args.requests, args.src)
        per = (busy - idle) / args.requests
        print(f"{shape:8} {per / 1000:8.1f} k instructions/response  {writes / args.requests:5.1f} writes/response")


if __name__ == "__main__":
    main()
