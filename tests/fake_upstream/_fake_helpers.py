"""Helpers shared by the fake upstream tests."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from tiered.cascade.triage import TriageMode, build_triage_request


def user(text: str, *, model: str = "claude-haiku-4-5", max_tokens: int = 1024, **extra: Any) -> dict[str, Any]:
    """A minimal Messages body with one user message."""
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}], **extra}


def triage(
    text: str, *, mode: TriageMode = "structured", model: str = "claude-haiku-4-5", **extra: Any
) -> dict[str, Any]:
    """The triage request tiered would send for a one-message conversation."""
    return build_triage_request(user(text, **extra), model, mode)


def sse_events(response: httpx2.Response) -> list[tuple[str, Any]]:
    """(event name, parsed data) of every event of a read streaming response."""
    events = []
    for chunk in response.text.split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def streamed_text(events: list[tuple[str, Any]]) -> str:
    """The text (or tool input JSON) carried by the deltas of a Messages stream."""
    parts = []
    for name, data in events:
        if name == "content_block_delta":
            delta = data["delta"]
            parts.append(delta.get("text", delta.get("partial_json", "")))
    return "".join(parts)
