"""Smoke tests of the benchmark harness's logic (no timing is asserted)."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from bench.harness.bench import Bench
from bench.harness.jobs import Call, Job, Target, TargetResult, job_from_json, job_to_json
from bench.harness.loadgen import run_job
from bench.harness.overhead import ProbeMismatchError, check_probe, targets_for
from bench.harness.peers import Peer
from bench.harness.plan import quick_plan
from bench.harness.procs import free_port, sample, sample_many, tree_pids
from bench.harness.profile import hot_spots
from bench.harness.report import render
from bench.harness.scenarios import API_HEADERS, body, overhead_scenarios, realistic_escalated
from bench.harness.stack import Probe, probe
from bench.harness.stats import added, dist, percentile, summarize
from bench.harness.targets import judge

from tiered.fake_upstream import FakeUpstream


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile(values, 101)
    assert dist([]) is None


def test_summary_and_added_compare_percentiles_and_cpu() -> None:
    proxy = TargetResult("tiered", ok=4, sent=5, total_ms=[2.0, 3.0, 4.0, 5.0], wall_s=2.0, cpu_s={"tiered": 0.002})
    base = TargetResult("direct", ok=4, sent=4, total_ms=[1.0, 1.5, 2.0, 2.5], wall_s=2.0)
    sp, sb = summarize(proxy), summarize(base)
    assert sp.rps == 2.0
    assert sp.cpu_ms_per_request["tiered"] == pytest.approx(0.5)
    a = added(sp, sb)
    assert a is not None
    assert a.p50 == pytest.approx(3.5 - 1.75)
    assert a.ratio_p50 == pytest.approx(2.0)
    assert a.ttfb_p50 is None
    assert added(summarize(TargetResult("empty")), sb) is None


def test_cpu_per_request_is_the_median_of_three_or_more_slices() -> None:
    # five slices of 100 requests; one slow second (0.9 s) does not decide the value
    spent = [0.05, 0.06, 0.9, 0.05, 0.07]
    result = TargetResult(
        "tiered",
        ok=500,
        cpu_s={"tiered": sum(spent)},
        cpu_slices=[{"tiered": s} for s in spent],
        ok_slices=[100] * 5,
    )
    summary = summarize(result)
    assert summary.cpu_ms_per_request["tiered"] == pytest.approx(0.6)
    assert summary.cpu_ms_slices["tiered"] == pytest.approx([0.5, 0.6, 9.0, 0.5, 0.7])
    # two slices: all CPU over all requests
    two = TargetResult("tiered", ok=200, cpu_s={"tiered": 0.96}, cpu_slices=[{"tiered": 0.06}, {"tiered": 0.9}])
    two.ok_slices = [100, 100]
    assert summarize(two).cpu_ms_per_request["tiered"] == pytest.approx(4.8)


def test_job_round_trips_through_json() -> None:
    job = Job(
        mode="closed",
        targets=(Target("t", (Call("http://127.0.0.1:1/v1/messages", {"a": 1}, {"h": "v"}, True),)),),
        concurrency=3,
        watch={"x": 1},
    )
    assert job_from_json(job_to_json(job)) == job
    result = TargetResult("t", ok=1, window=(1.0, 2.0))
    assert TargetResult.from_json(result.to_json()) == result


def test_proc_sampling_reads_this_process_and_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert child.pid in tree_pids(os.getpid())
        mine = sample(os.getpid())
        assert mine.cpu_s > 0 and mine.rss_bytes > 0 and mine.processes >= 2
        assert set(sample_many({"me": os.getpid()})) == {"me"}
    finally:
        child.kill()
        child.wait()
    assert 0 < free_port() < 65536


def test_hot_spots_rank_self_and_inclusive_samples() -> None:
    collapsed = (
        "process 1:tiered;main (a.py:1);handle (b.py:2);dumps (json/encoder.py:3) 6\n"
        "process 1:tiered;main (a.py:1);handle (b.py:2) 4\n"
        "garbage line\n"
    )
    text = hot_spots(collapsed)
    assert text.startswith("10 samples")
    assert " 60.0  dumps (json/encoder.py)" in text
    assert "100.0  main (a.py)" in text
    assert hot_spots("") == "no samples\n"


def test_scenarios_script_the_fake() -> None:
    shipped = body(overhead_scenarios()["shipped"], stream=True)
    assert shipped["stream"] is True and "[[fake confidence=0.95" in shipped["messages"][0]["content"]
    assert "stream" not in body(realistic_escalated(), stream=False)


def _closed(targets: tuple[Target, ...], **kw: object) -> Job:
    return Job(mode="closed", targets=targets, concurrency=2, warmup_s=0.05, duration_s=0.2, timeout_s=10, **kw)  # type: ignore[arg-type]


def test_load_generator_measures_json_streams_and_sequences() -> None:
    with FakeUpstream() as fake:
        url = fake.url + "/v1/messages"
        request = body(overhead_scenarios()["passthrough"], stream=False)
        streamed = {**request, "stream": True}
        targets = (
            Target("json", (Call(url, request, dict(API_HEADERS)),)),
            Target("stream", (Call(url, streamed, dict(API_HEADERS), True),)),
            Target("seq", (Call(url, request, dict(API_HEADERS)), Call(url, streamed, dict(API_HEADERS), True))),
            Target("bad", (Call(fake.url + "/nowhere", request, dict(API_HEADERS)),)),
        )
        closed = asyncio.run(run_job(_closed(targets, watch={"self": os.getpid()})))
        interleaved = asyncio.run(run_job(_closed(targets[:2], interleave=True)))
        opened = asyncio.run(
            run_job(Job(mode="open", targets=targets[:1], rate=50, warmup_s=0.05, duration_s=0.2, timeout_s=10))
        )
        held = asyncio.run(
            run_job(Job(mode="hold", targets=(targets[1], targets[1]), concurrency=5, watch={"fake": os.getpid()}))
        )
    json_r, stream_r, seq_r, bad_r = closed
    assert json_r.ok > 0 and json_r.errors == 0 and not json_r.ttft_ms and "self" in json_r.cpu_s
    assert stream_r.ok > 0 and len(stream_r.ttft_ms) == stream_r.ok and len(stream_r.ttfb_ms) == stream_r.ok
    assert seq_r.ok > 0 and seq_r.sent >= seq_r.ok
    assert bad_r.ok == 0 and bad_r.errors > 0 and "HTTP 404" in bad_r.error_samples[0]
    assert all(r.ok > 0 and r.wall_s > 0 for r in interleaved)
    assert opened[0].ok == 10 and len(opened[0].start_lag_ms) == 10
    assert (held[0].ok, held[1].ok) == (3, 2) and held[0].max_open == 5 and held[0].rss_peak["fake"] > 0


def test_probe_reads_the_upstream_calls_and_checks_them() -> None:
    from tiered.config import ProviderSettings, Settings
    from tiered.server.thread import ProxyThread

    with FakeUpstream() as fake:
        settings = Settings(providers={"anthropic": ProviderSettings(base_url=fake.url)})
        with ProxyThread(settings, use_store=False) as proxy:
            scenarios = overhead_scenarios()
            escalated = probe(proxy.url, fake.url, body(scenarios["escalated"], stream=False))
            check_probe(scenarios["escalated"], escalated)
            assert escalated.escalated and len(escalated.bodies()) == 2
            assert escalated.bodies()[1]["model"] == "claude-opus-4-7"
            with pytest.raises(ProbeMismatchError, match="upstream call"):
                check_probe(scenarios["shipped"], escalated)
    with pytest.raises(ProbeMismatchError, match="x-tiered-route"):
        check_probe(scenarios["passthrough"], Probe({"x-tiered-route": "default"}, [{}]))


def test_peers_make_the_upstream_calls_tiered_made(tmp_path: Path) -> None:
    from tiered.config import ProviderSettings, Settings
    from tiered.server.thread import ProxyThread

    def at(url: str) -> Any:
        return SimpleNamespace(url=url)

    peer = Peer("portkey", "0", tmp_path)
    with FakeUpstream() as fake:
        settings = Settings(providers={"anthropic": ProviderSettings(base_url=fake.url)})
        with ProxyThread(settings, use_store=False) as proxy:
            bench = Bench(
                plan=quick_plan(),
                services=cast(Any, None),
                loadgen=cast(Any, None),
                work=tmp_path,
                log_dir=tmp_path,
                fake=at(fake.url),
                tiered=at(proxy.url),
                tiered_home=tmp_path,
                peers={"portkey": (peer, at("http://127.0.0.1:9"))},
            )
            scenarios = overhead_scenarios()
            made = {
                shape: targets_for(bench, shape, scenarios[shape], stream=False)
                for shape in ("shipped", "passthrough", "escalated")
            }
            streamed = targets_for(bench, "shipped", scenarios["shipped"], stream=True)
    # shipped: the peer forwards the triage call tiered made (with the triage instruction), but as the JSON call
    # the JSON client asked for: tiered streams its triage even then, and a peer made to stream would be
    # measured on streaming (Portkey waits 25 ms before a stream's first event) in a JSON scenario
    targets, peers = made["shipped"]
    assert [t.name for t in peers] == ["direct", "portkey"]
    assert targets[1].calls[0].body["stream"] is True  # tiered's own baseline: the call it really made
    (triage,) = peers[1].calls
    assert triage.url == "http://127.0.0.1:9/v1/messages" and not triage.stream and "stream" not in triage.body
    assert triage.body == peers[0].calls[0].body and triage.body["model"] == "claude-haiku-4-5"
    assert not peers[0].calls[0].stream and triage.body["system"] == targets[1].calls[0].body["system"]
    # escalated: both calls, back to back, against the baseline tiered is judged on
    targets, peers = made["escalated"]
    assert [t.name for t in peers] == ["direct-2calls", "portkey"]
    assert [c.body for c in peers[1].calls] == [c.body for c in peers[0].calls]
    assert [c.body["model"] for c in peers[1].calls] == ["claude-haiku-4-5", "claude-opus-4-7"]
    assert not any(c.stream or "stream" in c.body for t in peers for c in t.calls)
    assert [c.body for c in peers[0].calls] == [_without_stream(c.body) for c in targets[1].calls]
    # streaming: the same calls, streamed
    _, peers = streamed
    (triage,) = peers[1].calls
    assert triage.stream and triage.body["stream"] is True and triage.body == peers[0].calls[0].body
    # pass-through: the client's request itself
    targets, peers = made["passthrough"]
    (forwarded,) = peers[1].calls
    assert forwarded.body == targets[0].calls[0].body and not forwarded.stream


def _without_stream(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != "stream"}


def _results() -> dict[str, object]:
    def target(p50: float, cpu: float = 0.0) -> dict[str, object]:
        d = {"n": 10, "mean": p50, "p50": p50, "p90": p50, "p99": p50 * 2, "max": p50 * 3}
        return {
            "ok": 10,
            "errors": 0,
            "rps": 100.0,
            "total": d,
            "ttfb": None,
            "ttft": d,
            "start_lag": d,
            "cpu_ms_per_request": {"tiered": cpu},
        }

    def cell(
        conc: int, tiered_added: float, cpu: float, peer: float, shape: str = "passthrough", base: str = "direct"
    ) -> dict[str, object]:
        added_t = {"p50": tiered_added, "p99": tiered_added * 2, "ratio_p50": 1.5, "ttfb_p50": None, "ttfb_p99": None}
        added_p = {"p50": peer, "p99": peer * 2, "ratio_p50": 3.0, "ttfb_p50": None, "ttfb_p99": None}
        return {
            "shape": shape,
            "mode": "json",
            "concurrency": conc,
            "baseline": base,
            "fake_cpu_ms_per_call": 0.3,
            "proxies": {
                "tiered": {"cpu_ms_per_request": cpu, "added": {base: added_t}},
                "litellm": {"cpu_ms_per_request": 3.0, "added": {base: added_p}},
            },
            "targets": {"tiered": target(2.0, cpu), base: target(1.0), "litellm": target(5.0, 3.0)},
        }

    failed = cell(16, 1.0, 0.3, 2.0, "shipped")
    failed["proxies"] = {"tiered": failed["proxies"]["tiered"]}  # type: ignore[index]
    failed["peer_failure"] = "litellm: 5 errors"
    return {
        "plan": {"rounds": 2},
        "overhead": [
            cell(1, 0.8, 0.4, 4.0),
            cell(64, 1.5, 0.7, 9.0),
            cell(64, 2.5, 0.4, 2.0, "escalated", "direct-2calls"),
            failed,
            cell(1, 1.75, 0.5, 4.5, "shipped"),
        ],
        "memory": {
            "streams": 1000,
            "ok": 1000,
            "errors": 0,
            "max_in_flight": 1000,
            "rss_mb_idle": 80.0,
            "rss_mb_peak": 250.0,
            "rss_mb_all_in_flight": 240.0,
            "fake_rss_mb_peak": 1.0,
            "loadgen_rss_mb_peak": 1.0,
            "slowest_first_byte_s": 3.1,
            "error_samples": [],
        },
        "store_check": {
            "rows": 10,
            "requests_sent": 11,
            "missing": 1,
            "spool_files_left": 0,
            "exit_code": 0,
            "rss_mb_at_end": 90.0,
            "readyz_before_stop": {},
        },
        "meta": {
            "command": ".venv/bin/python bench/run.py",
            "quick": False,
            "duration_s": 1.0,
            "tiered_duration_s": 1.0,
            "started": "now",
            "tiered_version": "0",
            "peers": {"litellm": "measured"},
            "machine": {
                "nproc": 2,
                "cpu": "x",
                "python": "3.11",
                "platform": "linux",
                "node": None,
                "load_average_at_start": "0",
                "libraries": "x",
            },
        },
    }


def test_targets_are_judged_and_rendered() -> None:
    results = _results()
    verdicts = {v.target: v.met for v in judge(results)}
    assert verdicts["added latency c=1 p50 <= 1 ms (passthrough json)"] is True
    assert verdicts["added latency c=1 p99 <= 3 ms (passthrough json)"] is True
    assert verdicts["proxy CPU c=64 <= 0.5 ms/request (passthrough json)"] is False
    assert verdicts["less added latency (p50 and p99) and CPU than litellm (passthrough json c=64)"] is True
    assert verdicts["RSS with 1000 concurrent streams < 300 MB"] is True
    assert verdicts["no decision dropped (rows == requests sent, empty spool)"] is False
    # escalated: judged against the two calls made directly, the peer's as tiered's
    assert verdicts["less added latency (p50 and p99) and CPU than litellm (escalated json c=64)"] is False
    assert verdicts["less added latency (p50 and p99) and CPU than the peers (shipped json c=16)"] is None
    text = render(results)
    assert "| 4 | no decision dropped" in text and "**not met**" in text
    assert "| passthrough | json | 64 | litellm | 9.00 / 18.00 |" in text
    assert "| escalated | json | 64 | litellm | 2.00 / 4.00 |" in text
    assert "| shipped | json | 16 | peers | job failed: litellm: 5 errors |" in text
    assert "full run, 1 s)" in text  # tiered's own share only when the peers' share was measured
    # each proxy's pass-through and shipped figures on one line, with the difference
    header = "| mode | c | proxy | passthrough: added p50 / p99, CPU | shipped: added p50 / p99, CPU | escalated:"
    assert header in text
    assert "| json | 1 | tiered | 0.80 / 1.60, 0.400 | 1.75 / 3.50, 0.500 | - | 0.95 |" in text
    assert "| json | 1 | litellm | 4.00 / 8.00, 3.000 | 4.50 / 9.00, 3.000 | - | 0.50 |" in text
    assert "| json | 64 | litellm | 9.00 / 18.00, 3.000 | - | 2.00 / 4.00, 3.000 | - |" in text
    assert "| json | 16 |" not in text.split("shipped - passthrough added p50 ms |")[1]  # no peer figures there
    results["meta"]["peer_jobs_s"] = 0.5  # type: ignore[index]
    assert "full run, 1 s; tiered alone: 1 s)" in render(results)


def test_a_job_that_overruns_is_reported_with_what_is_in_flight(tmp_path: Path) -> None:
    """The driver asks a load generator that overran what it still waits for, and says so in its error."""
    import socket

    from bench.harness.driver import LoadGen, LoadGenError, expected_seconds

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections and never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/messages"
    job = Job(
        mode="closed",
        targets=(Target("silent-peer", (Call(url, {"model": "m"}, {}),)),),
        concurrency=2,
        warmup_s=0.0,
        duration_s=0.2,
        timeout_s=30.0,
    )
    try:
        with LoadGen(tmp_path / "loadgen.log") as loadgen, pytest.raises(LoadGenError) as info:
            loadgen.run(job, slack_s=3.0 - expected_seconds(job))  # give up long before the requests time out
    finally:
        silent.close()
    message = str(info.value)
    assert "did not finish" in message and "silent-peer: 2, oldest" in message
    assert "task(s) waiting in" in message


def test_the_peers_first_job_warms_them_up_longer(tmp_path: Path) -> None:
    """Node compiles hot code late: the first peer cell must not be measured cold (the later ones run warm)."""
    from bench.harness.driver import LoadGenError
    from bench.harness.overhead import PEER_WARMUP_S, _add_peers

    jobs: list[Job] = []

    def run(job: Job) -> dict[str, Any]:
        jobs.append(job)
        raise LoadGenError("stub")

    bench = Bench(
        plan=quick_plan(("portkey",)),
        services=cast(Any, None),
        loadgen=cast(Any, None),
        work=tmp_path,
        log_dir=tmp_path,
        fake=cast(Any, SimpleNamespace(pid=1)),
        tiered=cast(Any, SimpleNamespace(pid=1)),
        tiered_home=tmp_path,
    )
    bench.run = run  # type: ignore[method-assign]  # a stub load generator
    targets = [Target("portkey", (Call("http://127.0.0.1:9/v1/messages", {}, {}),))]
    cells: list[dict[str, Any]] = [{}, {}]
    for cell in cells:
        _add_peers(bench, cell, targets, 1)
    assert [j.warmup_s for j in jobs] == [PEER_WARMUP_S, bench.plan.warmup_s] and bench.plan.warmup_s < PEER_WARMUP_S
    assert all(cell["peer_failure"] == "stub" for cell in cells)
