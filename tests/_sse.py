"""Reading an SSE body the way a client does, for tests that look at what the proxy streamed."""

from __future__ import annotations

import json
from typing import Any


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) for every event of an SSE body."""
    events: list[tuple[str, dict[str, Any]]] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = "message", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if data:
            events.append((name, json.loads(data)))
    return events
