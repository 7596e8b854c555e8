"""Instructions per request of the proxy, counted by callgrind: a repeatable A/B on a noisy machine.

    python bench/instructions.py [--scenarios json-shipped,stream-pass] [--requests 40] [--src DIR]

CPU time per request moves by 10-20% between identical runs on a shared 2-core machine; instruction counts do
not (valgrind counts what the process executes, whatever else runs). This runs the fake upstream normally and
``tiered serve`` under ``valgrind --tool=callgrind`` (about 50 times slower, so a few dozen requests per
scenario), sends each scenario's requests (the zero-latency shapes of ``bench/run.py``) at concurrency 4 after
a warm-up, and reads the instructions the whole proxy process (decision writer included) executed for them.
``--src`` runs the proxy from another checkout's ``src`` (e.g. a ``git worktree`` of the base commit) so that
two versions are compared on the same machine and inputs. Instructions are not time: use it to compare
versions, and BENCHMARKS.md (``bench/run.py``) for what a request costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness.procs import LOOPBACK, free_port  # noqa: E402
from bench.harness.scenarios import API_HEADERS, Shape, body, overhead_scenarios  # noqa: E402

LOADS: dict[str, tuple[Shape, bool]] = {
    "json-shipped": ("shipped", False),
    "json-pass": ("passthrough", False),
    "json-esc": ("escalated", False),
    "stream-shipped": ("shipped", True),
    "stream-pass": ("passthrough", True),
    "stream-esc": ("escalated", True),
}


def wait_ready(port: int, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"nothing answered {path} on port {port} within {timeout_s:.0f} s")


def send(port: int, request: dict[str, Any], count: int, concurrency: int = 4) -> int:
    """Send about ``count`` requests on ``concurrency`` connections; returns how many were sent."""
    data = json.dumps(request).encode()
    headers = {**API_HEADERS, "content-type": "application/json"}
    failures: list[str] = []

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=600)
        for _ in range(n):
            conn.request("POST", "/v1/messages", data, headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f"HTTP {response.status}: {answer[:200]!r}")

    threads = [threading.Thread(target=worker, args=(count // concurrency,)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed, first: {failures[0]}")
    return count // concurrency * concurrency


def callgrind(pid: int, action: str) -> None:
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True)


def dumped_instructions(work: Path, before: set[Path]) -> int:
    for _ in range(50):
        for path in sorted(set(work.glob("cg.*")) - before, key=lambda p: p.stat().st_mtime):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise SystemExit("callgrind wrote no dump")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(LOADS), help=f"comma-separated, of {', '.join(LOADS)}")
    parser.add_argument("--requests", type=int, default=40, help="measured requests per scenario")
    parser.add_argument("--tokens", type=int, default=40, help="answer tokens per response")
    parser.add_argument("--src", type=Path, help="run the proxy from this src directory instead")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOADS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(LOADS)}")
    tiered = Path(sys.executable).with_name("tiered")
    with tempfile.TemporaryDirectory(prefix="tiered-instructions-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERED_", "ANTHROPIC_", "OPENAI_"))}
        fake_port, proxy_port = free_port(), free_port()
        with open(work / "fake.log", "wb") as fake_log, open(work / "tiered.log", "wb") as proxy_log:
            fake = subprocess.Popen(
                [str(tiered), "fake-upstream", "--host", LOOPBACK, "--port", str(fake_port)],
                env=env,
                stdout=fake_log,
                stderr=subprocess.STDOUT,
            )
            proxy_env = {**env, "ANTHROPIC_BASE_URL": f"http://{LOOPBACK}:{fake_port}", "TIERED_HOME": str(home)}
            if args.src is not None:
                proxy_env["PYTHONPATH"] = str(args.src.resolve())
            if _has_economics(args.src):
                # every scenario takes the path it is named after: the expected-cost rule would learn that the
                # escalated scenario's triages never ship and stop making them (tiered.economics)
                proxy_env["TIERED_ROUTES__DEFAULT__TRIAGE_WHEN"] = "always"
            proxy = subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={work}/cg.%p",
                    sys.executable,
                    str(tiered),
                    "serve",
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(proxy_port),
                ],
                env=proxy_env,
                cwd=home,
                stdout=proxy_log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_ready(fake_port, "/_fake/health", 60)
                wait_ready(proxy_port, "/readyz", 600)
                scenarios = overhead_scenarios(args.tokens)
                for name in names:
                    shape, stream = LOADS[name]
                    request = body(scenarios[shape], stream=stream)
                    send(proxy_port, request, 12)  # warm-up
                    time.sleep(1.0)
                    callgrind(proxy.pid, "--zero")
                    sent = send(proxy_port, request, args.requests)
                    time.sleep(1.5)  # the decision writer's share
                    before = set(work.glob("cg.*"))
                    callgrind(proxy.pid, "--dump")
                    total = dumped_instructions(work, before)
                    print(f"{name:15s} {total / sent / 1e6:8.3f} M instructions/request", flush=True)
            finally:
                proxy.terminate()
                fake.terminate()
                for process in (proxy, fake):
                    try:
                        process.wait(60)
                    except subprocess.TimeoutExpired:
                        process.kill()


def _has_economics(src: Path | None) -> bool:
    """Does the measured source have the expected-cost rule (route setting ``triage_when``)?"""
    root = src if src is not None else Path(__file__).resolve().parents[1] / "src"
    config = root / "tiered" / "config.py"
    return config.exists() and "triage_when" in config.read_text()


if __name__ == "__main__":
    main()
