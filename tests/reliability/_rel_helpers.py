"""Shared by the reliability tests: requests, event streams, the fake's call log, and proxy processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import httpx2

from tiered.fake_upstream import FakeUpstream, RequestRecord

UPSTREAM_TIMEOUT_S: Final = 1.0
HEADERS: Final = {"x-api-key": "sk-ant-reliability", "anthropic-version": "2023-06-01"}
CHAT_HEADERS: Final = {"authorization": "Bearer sk-ant-reliability"}


def ask(text: str, *, stream: bool = False, model: str = "tiered") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


def post(url: str, body: dict[str, Any], *, path: str = "/v1/messages", timeout: float = 30) -> httpx2.Response:
    headers = HEADERS if path == "/v1/messages" else CHAT_HEADERS
    return httpx2.post(url + path, json=body, headers=headers, timeout=timeout)


def model_calls(fake: FakeUpstream, model: str) -> list[RequestRecord]:
    fake.wait_idle(10)
    return [r for r in fake.requests if r.path == "/v1/messages" and r.model == model]


# -- tiered as a separate process -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tiered_command() -> list[str]:
    """``tiered`` from the running interpreter's environment."""
    script = Path(sys.executable).with_name("tiered")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tiered.cli"]


def start_proxy(home: Path, upstream_url: str, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TIERED_", "ANTHROPIC_", "OPENAI_"))},
        "TIERED_HOME": str(home),
        "ANTHROPIC_BASE_URL": upstream_url,
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [*tiered_command(), "serve", "--port", str(port)], env=environ, stdout=out, stderr=subprocess.STDOUT
        )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tiered serve exited with {process.returncode} before it was ready")
        try:
            if httpx2.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"tiered serve did not answer /healthz within {timeout}s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
