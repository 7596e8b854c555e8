"""Soak: hold a request rate against ``tiered serve`` with injected upstream faults, and check that nothing leaks.

    python bench/soak.py [--rate 200] [--duration 60] [--fault-rate 0.1] [--stream-share 0.3] [--seed 7]
                         [--faults KIND,...] [--json FILE]

Starts ``tiered fake-upstream`` (with a seeded scenario: every upstream call fails with probability
``--fault-rate``, the kind picked per request from ``--faults``) and ``tiered serve`` (SQLite store in a temp
TIERED_HOME) as subprocesses on loopback, then sends requests *open loop*: request *i* leaves at
``start + i / rate`` whether or not earlier ones have answered (up to ``--max-outstanding`` in flight). It
stops by itself: after ``--duration`` seconds of sending, a bounded wait for stragglers, and a graceful stop
of the proxy (which drains its decision writer).

Reports, and exits 1 unless all hold:

* **5xx not from upstream = 0**: a 5xx counts as the upstream's when its decision (``x-tiered-decision-id``,
  looked up in the store) ends with a failed upstream call; anything else (no decision, or a decision with no
  failed call) is tiered's own. Streams that end with neither ``message_stop`` nor an ``event: error`` are
  counted as tiered failures too (a cut connection);
* **no lost decisions**: every response that carried a decision id has its row in the store;
* **flat memory**: the proxy's RSS (sampled every second) in the last fifth of the sending period is within
  10% (or 16 MB) of its level in the second fifth (after warm-up);
* **rate held**: at least 95% of the target rate was sent.

Also: achieved rate, status counts, latency percentiles (all requests and successes), RSS over time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx2

DEFAULT_FAULTS = "rate_limit,overloaded,api_error,unavailable,timeout,drop,stall,stream_error,malformed"
UPSTREAM_TIMEOUT_S = 2.0  # the proxy's read timeout: bounds timeouts and stalls
HANG_S = 3.0


@dataclass(slots=True)
class Result:
    scheduled: float
    latency_s: float
    status: int  # 0: the request failed on the client side (connection error)
    stream: bool
    decision_id: str | None
    last_event: str | None = None  # streams: the last event read ("cut" when the connection broke)
    error: str | None = None  # what went wrong, for the report: exception name, or error type and message


@dataclass
class Report:
    target_rate: float
    duration_s: float
    sent: int = 0
    skipped_at_cap: int = 0
    achieved_rate: float = 0.0
    sending_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    upstream_5xx: int = 0
    tiered_5xx: int = 0
    tiered_5xx_examples: list[str] = field(default_factory=list)
    client_errors: int = 0
    errors_seen: dict[str, int] = field(default_factory=dict)
    stream_error_events: int = 0
    truncated_streams: int = 0
    responses_with_decision: int = 0
    decisions_stored: int = 0
    decisions_missing: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_ok_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    rss_warm_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_max_mb: float = 0.0
    failures: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tiered_command() -> list[str]:
    script = Path(sys.executable).with_name("tiered")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tiered.cli"]


def scenario(kinds: list[str], fault_rate: float, seed: int) -> dict[str, Any]:
    """One rule per fault kind, matched by a tag the client puts in the message: each upstream call of a
    request tagged with a kind fails with that kind with probability ``fault_rate`` (seeded dice)."""
    rules = []
    for index, kind in enumerate(kinds):
        fault: dict[str, Any] = {"kind": kind, "probability": fault_rate}
        if kind == "rate_limit":
            fault["retry_after"] = 0.2
        if kind in ("drop", "stall", "stream_error", "malformed"):
            fault["after_events"] = 4
        if kind in ("timeout", "stall"):
            fault["hang_s"] = HANG_S
        rules.append({"contains": f"soak-kind-{index}", "fault": fault})
    return {"seed": seed, "rules": rules, "ttft_ms": 20, "tokens_per_s": 400}


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p99.9": at(0.999), "max": at(1.0)}


async def one(client: httpx2.AsyncClient, url: str, i: int, args: argparse.Namespace, kinds: int) -> Result:
    rng = random.Random(args.seed * 1_000_003 + i)
    stream = rng.random() < args.stream_share
    body = {
        "model": "tiered",
        "max_tokens": 300,
        "stream": stream,
        "messages": [{"role": "user", "content": f"soak-kind-{i % kinds} question {i}: explain topic {i % 997}"}],
    }
    headers = {"x-api-key": f"sk-ant-soak-tenant-{i % 8}", "anthropic-version": "2023-06-01"}
    started = time.perf_counter()
    try:
        async with client.stream("POST", url + "/v1/messages", json=body, headers=headers) as response:
            result = Result(started, 0.0, response.status_code, stream, response.headers.get("x-tiered-decision-id"))
            try:
                raw = await response.aread()
            except httpx2.HTTPError as exc:  # the body broke off after the status line: a cut stream
                result.latency_s = time.perf_counter() - started
                result.last_event, result.error = "cut", type(exc).__name__
                return result
    except httpx2.HTTPError as exc:
        return Result(started, time.perf_counter() - started, 0, stream, None, error=type(exc).__name__)
    result.latency_s = time.perf_counter() - started
    if stream and response.status_code == 200:
        names = [line[7:] for line in raw.decode(errors="replace").split("\n") if line.startswith("event: ")]
        result.last_event = names[-1] if names else None
    if response.status_code >= 400:
        try:
            error = json.loads(raw)["error"]
            result.error = f"{error['type']}: {str(error['message'])[:60]}"
        except (ValueError, KeyError, TypeError):
            result.error = raw[:60].decode(errors="replace")
    return result


async def drive(url: str, args: argparse.Namespace, kinds: int, report: Report) -> list[Result]:
    limits = httpx2.Limits(max_connections=args.max_outstanding, max_keepalive_connections=args.max_outstanding)
    timeout = httpx2.Timeout(60.0, connect=10.0)
    results: list[Result] = []
    tasks: set[asyncio.Task[Result]] = set()

    def done(task: asyncio.Task[Result]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            results.append(task.result())

    # Nagle off on the load's sockets, said rather than left to the event loop (bench/harness/nodelay.py: why)
    transport = httpx2.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)], trust_env=False
    )
    async with httpx2.AsyncClient(transport=transport, timeout=timeout, trust_env=False) as client:
        total = int(args.rate * args.duration)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for i in range(total):
            due = begin + i / args.rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= args.max_outstanding:
                report.skipped_at_cap += 1
                continue
            task = asyncio.create_task(one(client, url, i, args, kinds))
            tasks.add(task)
            task.add_done_callback(done)
            report.sent += 1
        sending = loop.time() - begin
        report.sending_s = round(sending, 1)
        report.achieved_rate = round(report.sent / sending, 1) if sending > 0 else 0.0
        if tasks:
            await asyncio.wait(set(tasks), timeout=args.drain_s)
        for task in tasks:
            task.cancel()
    return results


class RssSampler:
    """Samples the proxy's RSS every second from a thread of its own (the load loop may be too busy to)."""

    def __init__(self, pid: int, samples: list[tuple[float, float]]) -> None:
        self._pid = pid
        self._samples = samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            try:
                self._samples.append((round(time.monotonic() - start, 1), round(rss_mb(self._pid), 1)))
            except OSError:
                return
            self._stop.wait(1.0)


def event_loop_runner() -> Any:
    """uvloop when installed (the load generator must not be the bottleneck), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def check_store(db: Path, results: list[Result], report: Report) -> None:
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM decisions")}
        failed_call = {
            row[0]
            for row in conn.execute(
                "SELECT a.decision_id FROM attempts a WHERE a.outcome = 'error' AND a.idx = "
                "(SELECT MAX(b.idx) FROM attempts b WHERE b.decision_id = a.decision_id)"
            )
        }
    with_decision = [r.decision_id for r in results if r.decision_id]
    report.responses_with_decision = len(with_decision)
    report.decisions_stored = len(stored)
    report.decisions_missing = sum(1 for d in with_decision if d not in stored)
    for r in results:
        if r.status >= 500:
            if r.decision_id is not None and r.decision_id in failed_call:
                report.upstream_5xx += 1
            else:
                report.tiered_5xx += 1
                if len(report.tiered_5xx_examples) < 5:
                    report.tiered_5xx_examples.append(f"{r.status} decision={r.decision_id}")


def summarise(results: list[Result], report: Report) -> None:
    report.statuses = dict(sorted(Counter(str(r.status) for r in results).items()))
    report.client_errors = sum(1 for r in results if r.status == 0)
    seen = Counter(f"{r.status} {r.error}" for r in results if r.error)
    report.errors_seen = dict(seen.most_common(15))
    streams = [r for r in results if r.stream and r.status == 200]
    report.stream_error_events = sum(1 for r in streams if r.last_event == "error")
    report.truncated_streams = sum(1 for r in streams if r.last_event not in ("message_stop", "error"))
    report.latency_ms = percentiles([r.latency_s for r in results if r.status])
    report.latency_ok_ms = percentiles([r.latency_s for r in results if r.status == 200])
    # memory is judged while the load is on: stragglers drained after it are not the steady state
    samples = [mb for t, mb in report.rss_mb if t <= report.sending_s] or [mb for _, mb in report.rss_mb]
    if samples:
        fifth = max(1, len(samples) // 5)
        warm = sorted(samples[fifth : 2 * fifth] or samples)
        end = sorted(samples[-fifth:])
        report.rss_warm_mb = warm[len(warm) // 2]
        report.rss_end_mb = end[len(end) // 2]
        report.rss_max_mb = max(samples)


def judge(report: Report, args: argparse.Namespace) -> None:
    if report.tiered_5xx:
        report.failures.append(f"{report.tiered_5xx} 5xx did not come from upstream")
    if report.truncated_streams:
        report.failures.append(f"{report.truncated_streams} streams were cut without message_stop or an error event")
    if report.client_errors:
        report.failures.append(f"{report.client_errors} requests failed on the connection")
    if report.decisions_missing:
        report.failures.append(f"{report.decisions_missing} decisions missing from the store")
    growth = report.rss_end_mb - report.rss_warm_mb
    if report.rss_warm_mb and growth > max(16.0, 0.10 * report.rss_warm_mb):
        report.failures.append(f"RSS grew {growth:.1f} MB ({report.rss_warm_mb} -> {report.rss_end_mb} MB)")
    if report.achieved_rate < 0.95 * args.rate:
        report.failures.append(f"sent {report.achieved_rate}/s, under 95% of {args.rate}/s")


def run(args: argparse.Namespace) -> Report:
    kinds = [k for k in args.faults.split(",") if k]
    report = Report(target_rate=args.rate, duration_s=args.duration)
    with tempfile.TemporaryDirectory(prefix="tiered-soak-") as tmp:
        work = Path(tmp)
        scenario_file = work / "scenario.json"
        scenario_file.write_text(json.dumps(scenario(kinds or ["none"], args.fault_rate if kinds else 0.0, args.seed)))
        fake_port, proxy_port = free_port(), free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TIERED_", "ANTHROPIC_", "OPENAI_"))}
        fake = start(
            [*tiered_command(), "fake-upstream", "--port", str(fake_port), "--scenario", str(scenario_file)],
            base,
            work / "fake.log",
        )
        proxy_env = {
            **base,
            "TIERED_HOME": str(work / "home"),
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{fake_port}",
            "TIERED_PROVIDERS__ANTHROPIC__TIMEOUT_S": str(UPSTREAM_TIMEOUT_S),
        }
        proxy = start([*tiered_command(), "serve", "--port", str(proxy_port)], proxy_env, work / "serve.log")
        try:
            wait_for(f"http://127.0.0.1:{fake_port}/_fake/health", fake)
            url = f"http://127.0.0.1:{proxy_port}"
            wait_for(url + "/healthz", proxy)
            with RssSampler(proxy.pid, report.rss_mb):
                results = event_loop_runner()(drive(url, args, max(1, len(kinds)), report))
            proxy.send_signal(signal.SIGTERM)  # graceful: the writer drains its queue into the store
            proxy.wait(60)
            summarise(results, report)
            check_store(work / "home" / "tiered.db", results, report)
        finally:
            for process in (proxy, fake):
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
            if args.keep_logs:
                for name in ("serve.log", "fake.log"):
                    (Path(args.keep_logs) / name).write_bytes((work / name).read_bytes())
    judge(report, args)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (open loop)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--fault-rate", type=float, default=0.1, help="probability that an upstream call fails")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="fault kinds, comma-separated ('' for none)")
    parser.add_argument("--stream-share", type=float, default=0.3, help="share of streamed requests")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-outstanding", type=int, default=2000, help="cap on requests in flight")
    parser.add_argument("--drain-s", type=float, default=30.0, help="how long to wait for stragglers")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--keep-logs", help="copy the proxy's and the fake's logs into this directory")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or not 0 <= args.fault_rate <= 1:
        parser.error("--rate and --duration must be positive, --fault-rate within [0, 1]")
    report = run(args)
    shown = {k: v for k, v in asdict(report).items() if k != "rss_mb"}
    shown["rss_mb_every_10s"] = report.rss_mb[::10]
    print(json.dumps(shown, indent=2))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    print("PASS" if not report.failures else "FAIL: " + "; ".join(report.failures))
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
