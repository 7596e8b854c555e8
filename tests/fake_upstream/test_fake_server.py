"""Starting and stopping the fake: the test harness and the foreground ``run``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from tests.fake_upstream._fake_helpers import user

from tiered.fake_upstream import FakeUpstream, Scenario


def test_harness_lifecycle() -> None:
    fake = FakeUpstream(Scenario(seed=1))
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
    with fake:
        url = fake.url
        assert url.startswith("http://127.0.0.1:")
        assert httpx2.post(url + "/v1/messages", json=user("hi")).status_code == 200
        assert len(fake.requests) == 1
    with pytest.raises(RuntimeError):
        _ = fake.url
    with pytest.raises(httpx2.ConnectError):
        httpx2.post(url + "/v1/messages", json=user("hi"))
    with fake:  # restartable, on a new port; the log survives
        assert httpx2.get(fake.url + "/_fake/health").json()["status"] == "ok"
        assert len(fake.requests) == 1


def test_stop_does_not_wait_for_hanging_requests() -> None:
    with FakeUpstream() as fake:
        sock = socket.create_connection(("127.0.0.1", int(fake.url.rsplit(":", 1)[1])))
        body = b'{"model":"claude-haiku-4-5","max_tokens":9,"messages":[{"role":"user","content":"[[fake fault=timeout hang=60]]"}]}'
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 5
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # well under the 60 s hang
    sock.close()


def test_scenario_can_be_swapped_while_running(fake: FakeUpstream, http: httpx2.Client) -> None:
    fake.scenario = Scenario.from_json('{"rules": [{"contains": "ping", "answer": "pong"}]}')
    assert http.post("/v1/messages", json=user("ping")).json()["content"][0]["text"] == "pong"
    fake.scenario = Scenario()
    assert http.post("/v1/messages", json=user("ping")).json()["content"][0]["text"] != "pong"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_run_serves_in_the_foreground(tmp_path: Path) -> None:
    port = _free_port()
    scenario = tmp_path / "scenario.toml"
    scenario.write_text('[[rules]]\ncontains = "ping"\nanswer = "pong"\n')
    code = (
        "import sys; from tiered.fake_upstream import Scenario, run; "
        f"run('127.0.0.1', {port}, Scenario.load(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(scenario)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx2.post(url + "/v1/messages", json=user("ping"))
                break
            except httpx2.ConnectError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.json()["content"][0]["text"] == "pong"
    finally:
        process.terminate()
        process.wait(10)
