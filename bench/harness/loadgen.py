"""The load generator: a separate process that reads jobs (one JSON line each) on stdin and answers each
with one JSON line on stdout: ``python -m bench.harness.loadgen``.

It uses httpx2 with keep-alive (one pooled client per target, warmed up before measuring, Nagle off) on
uvloop when it is installed, and reads the CPU time and memory of the watched processes itself, right around the
measured slices, so warm-up is never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from bench.harness.jobs import Call, Job, Target, TargetResult, job_from_json
from bench.harness.nodelay import NODELAY
from bench.harness.procs import raise_fd_limit, sample_many

if TYPE_CHECKING:
    pass

__all__ = ["main", "run_job"]

_MAX_ERROR_SAMPLES = 5
_DELTA = b"content_block_delta"
_STOP = b"message_stop"


class _Client:
    """A pooled client for one target, with request bodies encoded once."""

    def __init__(self, target: Target, connections: int, timeout_s: float) -> None:
        import httpx2

        self.target = target
        self.timeout_s = timeout_s
        transport = httpx2.AsyncHTTPTransport(
            # below uvicorn's 5 s keep-alive timeout: reusing a connection the server is closing would fail the
            # request before it reaches the server (a ReadError the server never sees)
            limits=httpx2.Limits(
                max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=4.0
            ),
            # Nagle off, whatever the event loop does by default: a small write held for a delayed ACK would be
            # counted against the proxy (bench/harness/nodelay.py)
            socket_options=[NODELAY],
            trust_env=False,  # loopback only: no proxy from the environment between the client and the target
        )
        self.http = httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(timeout_s), trust_env=False)
        self.payloads = [json.dumps(c.body, separators=(",", ":")).encode() for c in target.calls]
        self.headers = [{"content-type": "application/json", **c.headers} for c in target.calls]
        self.inflight: dict[int, float] = {}  # request number -> start (perf_counter), for a stuck job's report
        self._numbers = 0

    async def one(self, result: TargetResult, record: bool, started: float | None = None) -> None:
        """One request of the target; ``started`` (perf_counter) is the intended start for open loops."""
        result.sent += 1
        t0 = time.perf_counter()
        origin = t0 if started is None else started
        self._numbers += 1
        number = self._numbers
        self.inflight[number] = t0
        try:
            ttfb, ttft = await self._calls(result if record else None)
        except Exception as exc:
            result.errors += 1
            if len(result.error_samples) < _MAX_ERROR_SAMPLES:
                result.error_samples.append(f"{type(exc).__name__}: {exc}"[:300])
            return
        finally:
            del self.inflight[number]
        end = time.perf_counter()
        if not record:
            return
        result.ok += 1
        result.total_ms.append((end - origin) * 1000)
        if started is not None:
            result.start_lag_ms.append((t0 - started) * 1000)
        if ttfb is not None:
            result.ttfb_ms.append((ttfb - origin) * 1000)
        if ttft is not None:
            result.ttft_ms.append((ttft - origin) * 1000)

    async def _calls(self, counted: TargetResult | None) -> tuple[float | None, float | None]:
        """The target's calls in order, within the whole-request time limit (a stream that trickles forever,
        pings say, would never hit a read timeout); the last call's first byte and first token times."""
        first_byte: float | None = None
        first_token: float | None = None
        async with asyncio.timeout(self.timeout_s):
            calls = self.target.calls
            for i, call in enumerate(calls):
                last = i == len(calls) - 1
                # decision headers are counted for measured requests only
                if call.stream:
                    first_byte, first_token = await self._stream(call, i, counted if last else None)
                else:
                    await self._json(call, i, counted if last else None)
                    first_byte = first_token = None
        return first_byte, first_token

    async def _json(self, call: Call, i: int, result: TargetResult | None) -> None:
        response = await self.http.post(call.url, content=self.payloads[i], headers=self.headers[i])
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        if result is not None:
            _count_escalated(result, response.headers.get("x-tiered-escalated"))

    async def _stream(self, call: Call, i: int, result: TargetResult | None) -> tuple[float, float | None]:
        first_token: float | None = None
        tail = b""
        stopped = False
        async with self.http.stream("POST", call.url, content=self.payloads[i], headers=self.headers[i]) as response:
            first_byte = time.perf_counter()
            if response.status_code != 200:
                body = await response.aread()
                raise RuntimeError(f"HTTP {response.status_code}: {body[:200]!r}")
            if result is not None:
                _count_escalated(result, response.headers.get("x-tiered-escalated"))
            async for chunk in response.aiter_raw():
                window = tail + chunk
                if first_token is None and _DELTA in window:
                    first_token = time.perf_counter()
                if _STOP in window:
                    stopped = True
                tail = window[-32:]
        if not stopped:
            raise RuntimeError("the stream ended without message_stop")
        return first_byte, first_token

    async def aclose(self) -> None:
        await self.http.aclose()


def _count_escalated(result: TargetResult, value: str | None) -> None:
    if value is not None:
        result.escalated[value] = result.escalated.get(value, 0) + 1


def _cpu(watch: dict[str, int]) -> dict[str, float]:
    return {name: s.cpu_s for name, s in sample_many(watch).items()}


def _rss(watch: dict[str, int]) -> dict[str, int]:
    return {name: s.rss_bytes for name, s in sample_many(watch).items()}


def _add_cpu(
    result: TargetResult, before: dict[str, float], after: dict[str, float], slice_ok: int | None = None
) -> None:
    """Add a measured window's CPU; ``slice_ok`` (the requests it completed) also keeps it as one slice."""
    spent = {name: value - before[name] for name, value in after.items() if name in before}
    for name, value in spent.items():
        result.cpu_s[name] = result.cpu_s.get(name, 0.0) + value
    if slice_ok is not None:
        result.cpu_slices.append(spent)
        result.ok_slices.append(slice_ok)


async def _for(seconds: float, worker: Callable[[], Coroutine[Any, Any, None]], concurrency: int) -> None:
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            await worker()

    await asyncio.gather(*(loop() for _ in range(concurrency)))


async def _closed(job: Job, clients: list[_Client], results: list[TargetResult]) -> None:
    if job.interleave:
        await _interleaved(job, clients, results)
        return
    for round_no in range(job.rounds):
        for client, result in zip(clients, results, strict=True):
            warm = job.warmup_s if round_no == 0 else min(job.warmup_s, 0.3)
            await _for(warm, partial(client.one, result, False), job.concurrency)
            before, wall0, t0, ok0 = _cpu(job.watch), time.time(), time.perf_counter(), result.ok
            await _for(job.duration_s, partial(client.one, result, True), job.concurrency)
            result.wall_s += time.perf_counter() - t0
            _add_cpu(result, before, _cpu(job.watch), result.ok - ok0)
            result.window = (result.window[0] or wall0, time.time())


async def _interleaved(job: Job, clients: list[_Client], results: list[TargetResult]) -> None:
    pairs = list(zip(clients, results, strict=True))

    async def sweep(record: bool) -> None:
        for client, result in pairs:
            await client.one(result, record)

    await _for(job.warmup_s, partial(sweep, False), job.concurrency)
    before, wall0, t0 = _cpu(job.watch), time.time(), time.perf_counter()
    await _for(job.duration_s * len(pairs), partial(sweep, True), job.concurrency)
    wall, after = time.perf_counter() - t0, _cpu(job.watch)
    for result in results:
        result.wall_s = wall
        _add_cpu(result, before, after)
        result.window = (wall0, time.time())


async def _open(job: Job, clients: list[_Client], results: list[TargetResult]) -> None:
    for round_no in range(job.rounds):
        for client, result in zip(clients, results, strict=True):
            warm = job.warmup_s if round_no == 0 else min(job.warmup_s, 0.3)
            await _for(warm, partial(client.one, result, False), max(1, job.concurrency))
            tasks: set[asyncio.Task[None]] = set()
            before, wall0, t0, ok0 = _cpu(job.watch), time.time(), time.perf_counter(), result.ok
            for i in range(round(job.rate * job.duration_s)):
                intended = t0 + i / job.rate
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(client.one(result, True, intended))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
            result.wall_s += time.perf_counter() - t0
            _add_cpu(result, before, _cpu(job.watch), result.ok - ok0)
            result.window = (result.window[0] or wall0, time.time())


async def _hold(job: Job, clients: list[_Client], results: list[TargetResult]) -> None:
    """``job.concurrency`` streams at once, spread round-robin over the targets (several API keys, say);
    memory is sampled into the first target's result."""
    memory = results[0]
    memory.rss_before = _rss(job.watch)
    memory.rss_peak = dict(memory.rss_before)
    open_now = 0
    t0 = time.perf_counter()

    def finished() -> int:
        return sum(r.ok + r.errors for r in results)

    async def one(client: _Client, result: TargetResult) -> None:
        nonlocal open_now
        open_now += 1
        memory.max_open = max(memory.max_open, open_now)
        try:
            await client.one(result, True)
        finally:
            open_now -= 1

    async def watch_memory(done: asyncio.Event) -> None:
        while not done.is_set():
            rss = _rss(job.watch)
            for name, value in rss.items():
                memory.rss_peak[name] = max(memory.rss_peak.get(name, 0), value)
            if open_now == job.concurrency and finished() == 0:
                # every stream is in flight and none has finished: the point the target is about
                for name, value in rss.items():
                    memory.rss_all_open[name] = max(memory.rss_all_open.get(name, 0), value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), job.sample_every_s)

    done = asyncio.Event()
    before, wall0 = _cpu(job.watch), time.time()
    watcher = asyncio.create_task(watch_memory(done))
    pairs = list(zip(clients, results, strict=True))
    await asyncio.gather(*(one(*pairs[i % len(pairs)]) for i in range(job.concurrency)))
    done.set()
    await watcher
    memory.wall_s = time.perf_counter() - t0
    first_bytes = [ms for r in results for ms in r.ttfb_ms]
    memory.all_open_s = max(first_bytes) / 1000 if first_bytes else None
    _add_cpu(memory, before, _cpu(job.watch))
    memory.window = (wall0, time.time())


async def run_job(job: Job) -> list[TargetResult]:
    """Run one job and return a result per target, in the job's order."""
    connections = job.concurrency + 8 if job.mode != "open" else 2048
    if job.mode == "hold":
        connections = job.concurrency // len(job.targets) + 8
    clients = [_Client(t, connections, job.timeout_s) for t in job.targets]
    results = [TargetResult(t.name) for t in job.targets]
    runner = {"closed": _closed, "open": _open, "hold": _hold}[job.mode]
    loop = asyncio.get_running_loop()
    # the driver signals a job that overruns its time: say what is still in flight, and where it waits
    loop.add_signal_handler(signal.SIGUSR1, _report_stuck, clients)
    try:
        await runner(job, clients, results)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        for client in clients:
            await client.aclose()
    return results


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Where a task waits: the innermost frames of its chain of awaits."""
    frames: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(f"{frame.f_code.co_name} ({os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " <- ".join(reversed(frames[-3:])) or "?"


def _report_stuck(clients: list[_Client]) -> None:
    now = time.perf_counter()
    lines = ["loadgen: the job overran its time; requests in flight:"]
    for client in clients:
        ages = sorted((now - t for t in client.inflight.values()), reverse=True)
        oldest = f", oldest {ages[0]:.1f} s" if ages else ""
        lines.append(f"  {client.target.name}: {len(ages)}{oldest}")
    waits: Counter[str] = Counter(_awaiting(task) for task in asyncio.all_tasks())
    lines += [f"  {count} task(s) waiting in {where}" for where, count in waits.most_common(6)]
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def _run(job: Job) -> list[TargetResult]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_job(job))
    out: list[TargetResult] = uvloop.run(run_job(job))
    return out


def main() -> None:
    """Serve jobs from stdin until it closes."""
    raise_fd_limit()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            results = _run(job_from_json(line))
            reply: dict[str, Any] = {"results": [r.to_json() for r in results]}
        except Exception:
            reply = {"error": traceback.format_exc()}
        # a job's event loop may leave stdout non-blocking: a reply larger than the pipe's buffer would then be
        # cut short (seen with the 4th profile load)
        os.set_blocking(sys.stdout.fileno(), True)
        sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
