"""`tiered serve` at start-up (issue #20, item 3): a busy port is reported with a hint before anything says
"ready"; the log names the dashboard and the upstream each route calls, without alembic's chatter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiered.config import load_settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TIERED_HOME": str(tmp_path), "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "from tiered.cli import main; main()", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_busy_port_says_so_before_ready(busy_port: int, env: dict[str, str]) -> None:
    proc = _serve(busy_port, env)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, output
    assert f"error: cannot listen on 127.0.0.1:{busy_port} (Address already in use)" in output
    assert "--port" in output and "already running?" in output
    assert "proxy ready" not in output and "Errno" not in output and "Traceback" not in output


def test_the_start_up_log_names_the_dashboard_and_upstreams_and_alembic_is_quiet(env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(port, env)
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # until the server is up (or it exits)
            lines.append(line)
            if "Application startup complete" in line:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert f"tiered proxy on http://127.0.0.1:{port}" in output
    assert f"dashboard http://127.0.0.1:{port}/dashboard" in output
    assert "route default: claude-haiku-4-5 -> claude-opus-4-7 via http://127.0.0.1:9" in output
    assert "tiered proxy ready" in output
    assert "alembic" not in output


def test_startup_lines_name_each_routes_upstream() -> None:
    from tiered.server.serve import startup_lines

    settings = load_settings(environ={"ANTHROPIC_BASE_URL": "http://upstream.example:8787"})
    lines = startup_lines(settings)
    assert (
        lines[0]
        == "tiered proxy on http://127.0.0.1:8080 (bound to 127.0.0.1); dashboard http://127.0.0.1:8080/dashboard"
    )
    assert (
        "route three-tier: claude-haiku-4-5 -> claude-sonnet-4-6 -> claude-opus-4-7 via http://upstream.example:8787"
        in lines
    )


def test_scripts_serve_says_what_it_waits_for(tmp_path: Path) -> None:
    """The first scripts/serve spent 30 s installing in silence: install and serve now say what they do.
    Run on a copy of the scripts with a stub .venv whose python and tiered only record their arguments."""
    root = Path(__file__).parents[2]
    (tmp_path / "scripts").mkdir()
    for name in ("install", "serve"):
        (tmp_path / "scripts" / name).write_text((root / "scripts" / name).read_text())
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "constraints.txt").write_text("")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for stub in ("python", "tiered"):
        (bin_dir / stub).write_text(f'#!/bin/sh\necho "{stub} $*" >> "$(dirname "$0")/calls"\n')
        (bin_dir / stub).chmod(0o755)
    first = subprocess.run(
        ["bash", "scripts/serve", "--port", "9001"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "scripts/install: installing tiered and its pinned dependencies into .venv" in first.stderr
    assert "scripts/serve: starting the proxy (tiered serve --port 9001)" in first.stderr
    assert "tiered serve --port 9001" in (bin_dir / "calls").read_text()
    again = subprocess.run(["bash", "scripts/serve"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert "installing" not in again.stderr  # in place already: nothing to wait for
