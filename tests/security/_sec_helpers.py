"""Shared by the security tests: sending raw requests to the proxy and checking what comes back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import httpx2
from tests._sse import sse_events

ADMIN_KEY: Final = "sk-admin-security-tests-000000000000"
BODY_LIMIT: Final = 2 * 1024 * 1024
CLIENT_KEY: Final = "sk-ant-client-security-tests"
ANTHROPIC_HEADERS: Final = {
    "x-api-key": CLIENT_KEY,
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
FAKE_UPSTREAM_THREAD: Final = "tiered-fake-upstream"
OPENAI_HEADERS: Final = {"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"}


def dumps(body: Any) -> bytes:
    """JSON as an ASCII-only client would send it: lone surrogates and controls survive as escapes."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def post(
    url: str, path: str, content: bytes, headers: dict[str, str] | None = None, *, timeout: float = 30.0
) -> httpx2.Response:
    return httpx2.post(url + path, content=content, headers=headers or ANTHROPIC_HEADERS, timeout=timeout)


def sse_text(raw: bytes) -> str:
    """The text a client reads from an Anthropic SSE body."""
    return "".join(
        data["delta"]["text"]
        for name, data in sse_events(raw)
        if name == "content_block_delta" and data["delta"].get("type") == "text_delta"
    )


def anthropic_error_shape(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("type") == "error"
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("type"), str)
        and isinstance(body["error"].get("message"), str)
    )


def openai_error_shape(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("message"), str)
        and "type" in body["error"]
    )


class ErrorRecords(logging.Handler):
    """Collects ERROR records: an unexpected exception in the proxy is logged before it becomes a 500 (by
    tiered) or a cut connection (by uvicorn, whose loggers do not propagate to the root)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # the fake upstream shares the process (and uvicorn's loggers) but is not under test
        if record.threadName != FAKE_UPSTREAM_THREAD:
            self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else r.getMessage() for r in self.records]


@contextmanager
def errors_logged() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    loggers = [logging.getLogger(name) for name in ("tiered", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
