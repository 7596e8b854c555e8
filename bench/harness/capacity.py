"""Capacity: sustained decisions per second with the store's counts checked, and resident memory with many
concurrent streams."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

from bench.harness.bench import Bench
from bench.harness.jobs import Call, Job, Target
from bench.harness.nodelay import http_request
from bench.harness.overhead import check_probe
from bench.harness.procs import sample
from bench.harness.scenarios import API_HEADERS, Scenario, body, overhead_scenarios
from bench.harness.stack import decisions_count, probe, spool_files, tiered_service

__all__ = ["decisions_phase", "final_store_check", "memory_phase"]

MB = 1024 * 1024
_CLIENTS = 4


def _readyz(url: str) -> dict[str, Any]:
    try:
        _, _, raw = http_request("GET", url + "/readyz", timeout=10)
        data: dict[str, Any] = json.loads(raw)
        return data
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return {"status": f"unreachable: {exc}"}


def _count_at(timeline: list[tuple[float, int]], when: float) -> float:
    """Rows written at wall-clock ``when``, interpolated between polls."""
    before = [p for p in timeline if p[0] <= when]
    after = [p for p in timeline if p[0] >= when]
    if not before:
        return float(after[0][1]) if after else 0.0
    if not after:
        return float(before[-1][1])
    (t0, c0), (t1, c1) = before[-1], after[0]
    return float(c0) if t1 == t0 else c0 + (c1 - c0) * (when - t0) / (t1 - t0)


def decisions_phase(bench: Bench, progress: Any) -> dict[str, Any]:
    """Shipped JSON requests at full speed while the store's row count is polled."""
    plan = bench.plan
    scenario = overhead_scenarios()["shipped"]
    request = body(scenario, stream=False)
    check_probe(scenario, probe(bench.tiered.url, bench.fake.url, request))
    bench.tiered_sent += 1
    timeline: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            timeline.append((time.time(), decisions_count(bench.tiered_home)))
            stop.wait(0.2)
        timeline.append((time.time(), decisions_count(bench.tiered_home)))

    poller = threading.Thread(target=poll, name="decision-poller", daemon=True)
    poller.start()
    job = Job(
        mode="closed",
        targets=(Target("tiered", (bench.tiered_call(request, False),)),),
        concurrency=plan.decisions_concurrency,
        warmup_s=plan.warmup_s,
        duration_s=plan.decisions_duration_s,
        rounds=1,
        watch=bench.watch(),
        timeout_s=30.0,
    )
    try:
        (result,) = bench.run_raw(job)
    finally:
        stop.set()
        poller.join(10)
    start, end = result.window
    written = _count_at(timeline, end) - _count_at(timeline, start)
    caught_up_s = _wait_for(bench, bench.tiered_sent, timeout_s=30.0)
    out = {
        "concurrency": plan.decisions_concurrency,
        "responses": result.ok,
        "errors": result.errors,
        "responses_per_s": result.ok / result.wall_s if result.wall_s else 0.0,
        "decisions_written_per_s": written / (end - start) if end > start else 0.0,
        "expected_rows": bench.tiered_sent,
        "rows": decisions_count(bench.tiered_home),
        "caught_up_after_s": caught_up_s,
        "readyz": _readyz(bench.tiered.url),
    }
    progress(
        f"decisions: {out['responses_per_s']:.0f} responses/s, {out['decisions_written_per_s']:.0f} decisions/s "
        f"written, rows {out['rows']}/{out['expected_rows']}"
    )
    return out


def _wait_for(bench: Bench, expected: int, timeout_s: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if decisions_count(bench.tiered_home) >= expected:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def final_store_check(bench: Bench) -> dict[str, Any]:
    """Stop the main proxy gracefully (the writer flushes) and compare its rows with the requests sent."""
    rss = sample(bench.tiered.pid).rss_bytes
    readyz = _readyz(bench.tiered.url)
    code = bench.services.stop(bench.tiered, grace_s=60.0)
    rows = decisions_count(bench.tiered_home)
    return {
        "requests_sent": bench.tiered_sent,
        "rows": rows,
        "missing": bench.tiered_sent - rows,
        "spool_files_left": spool_files(bench.tiered_home),
        "readyz_before_stop": readyz,
        "exit_code": code,
        "rss_mb_at_end": rss / MB,
    }


def memory_phase(bench: Bench, progress: Any) -> dict[str, Any]:
    """Resident memory of a fresh proxy holding ``plan.memory_streams`` slow shipped streams at once."""
    streams = bench.plan.memory_streams
    # slow enough that every stream is in flight together: a decision after ~3 s, then 20 tokens at 4/s
    scenario = Scenario("memory", "shipped", "tiered", "confidence=0.95 tokens=20 ttft=3000 tps=4", 1)
    home = bench.work / "memory-home"
    proxy = bench.services.start(tiered_service(bench.fake.url, home, bench.log_dir, name="tiered-memory"))
    try:
        request = body(scenario, stream=True)
        idle = sample(proxy.pid).rss_bytes
        # several clients (API keys): one key may hold at most server.max_inflight_per_key (512) requests
        targets = tuple(
            Target(
                f"client-{i}",
                (Call(proxy.url + "/v1/messages", request, {**API_HEADERS, "x-api-key": f"bench-key-{i}"}, True),),
            )
            for i in range(_CLIENTS)
        )
        job = Job(
            mode="hold",
            targets=targets,
            concurrency=streams,
            watch={"tiered": proxy.pid, "fake": bench.fake.pid, "loadgen": bench.loadgen.pid},
            timeout_s=120.0,
        )
        results = bench.loadgen.run(job)
    finally:
        bench.services.stop(proxy, grace_s=30.0)
    result = results[0]  # memory is sampled into the first target's result
    ok, errors = sum(r.ok for r in results), sum(r.errors for r in results)
    samples = [e for r in results for e in r.error_samples][:5]
    out = {
        "streams": streams,
        "clients": _CLIENTS,
        "ok": ok,
        "errors": errors,
        "error_samples": samples,
        "max_in_flight": result.max_open,
        "rss_mb_idle": idle / MB,
        "rss_mb_peak": result.rss_peak.get("tiered", 0) / MB,
        "rss_mb_all_in_flight": result.rss_all_open.get("tiered", 0) / MB,
        "fake_rss_mb_peak": result.rss_peak.get("fake", 0) / MB,
        "loadgen_rss_mb_peak": result.rss_peak.get("loadgen", 0) / MB,
        "slowest_first_byte_s": result.all_open_s,
        "wall_s": result.wall_s,
    }
    progress(
        f"memory: {streams} streams, peak RSS {out['rss_mb_peak']:.0f} MB (idle {out['rss_mb_idle']:.0f} MB), "
        f"{ok} ok, {errors} errors"
    )
    return out
