"""The proxy's own cost against a zero-latency fake: added latency and CPU time per request, for each request
shape, JSON and streaming, at each concurrency, next to the direct calls it replaces and to the peers."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace
from typing import Any

from bench.harness.bench import PROXY_OF, Bench
from bench.harness.driver import LoadGenError
from bench.harness.jobs import Call, Job, Target
from bench.harness.peers import peer_calls
from bench.harness.scenarios import Scenario, Shape, body, overhead_scenarios
from bench.harness.stack import Probe, probe
from bench.harness.stats import Summary, added

__all__ = ["BASELINES", "PEER_WARMUP_S", "as_client_asked", "check_probe", "overhead_phase", "targets_for"]

# the baseline each proxy target is compared with, by shape; the first is the one the targets are judged on
BASELINES: dict[str, tuple[str, ...]] = {
    "shipped": ("direct",),
    "passthrough": ("direct",),
    "escalated": ("direct-2calls", "direct-final"),
}


# A peer's first job warms it up this long. Portkey runs on Node, whose compiler optimises code only once it is
# hot: with the plan's short warm-up, whichever peer cell came first read slower and costlier than the same work
# later in the run (quick runs: Portkey's first cell +65-75 ms against +41-57 ms for the same streamed calls
# later, and more CPU per request). A gateway in service is warm, so it is measured warm.
PEER_WARMUP_S = 3.0


class ProbeMismatchError(RuntimeError):
    """The proxy did not do what the scenario scripts (so the numbers would measure something else)."""


def check_probe(scenario: Scenario, result: Probe) -> None:
    calls = len(result.upstream)
    if calls != scenario.upstream_calls:
        raise ProbeMismatchError(f"{scenario.name}: expected {scenario.upstream_calls} upstream call(s), saw {calls}")
    if scenario.shape != "passthrough" and result.escalated != (scenario.shape == "escalated"):
        raise ProbeMismatchError(f"{scenario.name}: x-tiered-escalated is {result.headers.get('x-tiered-escalated')}")
    if scenario.shape == "passthrough" and result.headers.get("x-tiered-route") != "passthrough":
        raise ProbeMismatchError(f"{scenario.name}: x-tiered-route is {result.headers.get('x-tiered-route')}")


def targets_for(bench: Bench, shape: Shape, scenario: Scenario, stream: bool) -> tuple[list[Target], list[Target]]:
    """tiered and the direct baseline(s) replaying exactly the upstream calls the proxy made; and the peers
    making those same upstream calls, with their own direct baseline (measured in a separate job, so a peer
    that fails under load costs only its own numbers).

    A peer does not route, so it is given the calls tiered decided on: for pass-through the request itself,
    for a shipped answer the triage call, for an escalated one the triage call and then the final call, back
    to back (as the `direct-2calls` baseline makes them), each in the client's response kind (see
    :func:`as_client_asked`). tiered's added latency is judged against the same baseline as theirs."""
    request = body(scenario, stream=stream)
    seen = probe(bench.tiered.url, bench.fake.url, request)
    bench.tiered_sent += 1
    check_probe(scenario, seen)
    upstream = seen.bodies()
    targets = [Target("tiered", (bench.tiered_call(request, stream),))]
    if shape == "escalated":
        targets.append(Target("direct-2calls", tuple(bench.direct_call(b) for b in upstream)))
        targets.append(Target("direct-final", (bench.direct_call(upstream[-1]),)))
    else:
        targets.append(Target("direct", (bench.direct_call(upstream[0]),)))
    peers: list[Target] = []
    if bench.peers:
        # pass-through: the client's request as it is (the peers' own handling of it is measured)
        sent = [request] if shape == "passthrough" else [as_client_asked(b, stream) for b in upstream]
        peers.append(Target(BASELINES[shape][0], tuple(bench.direct_call(b) for b in sent)))
        for peer, service in bench.peers.values():
            routes: dict[str, list[Call]] = {}
            for one in sent:
                for name, call in peer_calls(peer, service, bench.fake.url, one, bool(one.get("stream"))).items():
                    routes.setdefault(name, []).append(call)
            peers.extend(Target(name, tuple(calls)) for name, calls in routes.items())
    return targets, peers


def as_client_asked(upstream: dict[str, Any], stream: bool) -> dict[str, Any]:
    """An upstream call tiered made, as a peer serving the same client makes it: streamed only when the client
    asked for a stream.

    tiered streams its triage call even for a JSON client (to read the confidence first and stop early), so the
    recorded triage body says ``"stream": true`` in the JSON scenarios too. Replayed as it is, it measured the
    peers on a streamed response in a JSON scenario: Portkey came out at +29 ms for a shipped JSON request and
    +1.9 ms for a pass-through one, the same forwarding work, because its gateway waits 25 ms before the first
    event of every stream it relays (Portkey-AI/gateway, ``src/handlers/streamHandler.ts``, ``readStream``).
    The peers' own baseline replays the same bodies, so each proxy is compared with the call it really made."""
    out = {k: v for k, v in upstream.items() if k != "stream"}
    if stream:
        out["stream"] = True
    return out


def _fake_cpu_per_call(base: Summary, calls: int, interleaved: bool) -> float:
    """The fake's CPU time per upstream call, from a baseline slice that ran alone (not when interleaved: the
    fake then served every target in the same window)."""
    if interleaved or calls == 0:
        return math.nan
    return base.cpu_ms_per_request.get("fake", math.nan) / calls


def _cell(
    bench: Bench, shape: str, mode: str, concurrency: int, summaries: dict[str, Summary], base_calls: int
) -> dict[str, Any]:
    base_name = BASELINES[shape][0]
    base = summaries[base_name]
    proxies: dict[str, Any] = {}
    for name, summary in summaries.items():
        proxy = PROXY_OF.get(name)
        if proxy is None:
            continue
        entry: dict[str, Any] = {
            "cpu_ms_per_request": summary.cpu_ms_per_request.get(proxy, math.nan),
            "added": {b: _as_dict(added(summary, summaries[b])) for b in BASELINES[shape]},
        }
        proxies[name] = entry
    return {
        "shape": shape,
        "mode": mode,
        "concurrency": concurrency,
        "baseline": base_name,
        "fake_cpu_ms_per_call": _fake_cpu_per_call(base, base_calls, concurrency == 1),
        "proxies": proxies,
        "targets": {name: s.to_json() for name, s in summaries.items()},
    }


def _as_dict(value: Any) -> dict[str, Any] | None:
    return asdict(value) if value is not None else None


def overhead_phase(bench: Bench, progress: Any) -> list[dict[str, Any]]:
    plan = bench.plan
    scenarios = overhead_scenarios()
    cells: list[dict[str, Any]] = []
    for mode in plan.modes:
        stream = mode == "stream"
        for shape_name in plan.shapes:
            shape: Shape = shape_name  # type: ignore[assignment]
            targets, peer_targets = targets_for(bench, shape, scenarios[shape], stream)
            for concurrency in plan.concurrencies:
                summaries = bench.run(_job(bench, targets, concurrency))
                cell = _cell(bench, shape, mode, concurrency, summaries, len(targets[1].calls))
                if peer_targets:
                    _add_peers(bench, cell, peer_targets, concurrency)
                cells.append(cell)
                progress(_line(cell))
    return cells


def _job(bench: Bench, targets: list[Target], concurrency: int) -> Job:
    plan = bench.plan
    c1 = concurrency == 1
    return Job(
        mode="closed",
        targets=tuple(targets),
        concurrency=concurrency,
        warmup_s=plan.warmup_s,
        duration_s=plan.c1_duration_s if c1 else plan.duration_s,
        rounds=1 if c1 else plan.rounds,
        interleave=c1,
        watch=bench.watch(),
        # the fake answers at once: a request still open after this is broken, not slow
        timeout_s=10.0,
    )


def _add_peers(bench: Bench, cell: dict[str, Any], targets: list[Target], concurrency: int) -> None:
    """The peers' job, compared with its own direct baseline; a failed job is recorded, not fatal."""
    started = time.monotonic()
    job = _job(bench, targets, concurrency)
    if not bench.peers_warmed:
        job = replace(job, warmup_s=max(job.warmup_s, PEER_WARMUP_S))
        bench.peers_warmed = True
    try:
        summaries = bench.run(job)
    except LoadGenError as exc:
        cell["peer_failure"] = str(exc)
        return
    finally:
        bench.peer_jobs_s += time.monotonic() - started
    base_name = cell["baseline"]
    base = summaries[base_name]
    cell["targets"][f"{base_name} (peers' job)"] = base.to_json()
    for name, summary in summaries.items():
        proxy = PROXY_OF.get(name)
        if proxy is None:
            continue
        cpu = summary.cpu_ms_per_request.get(proxy, math.nan)
        if concurrency == 1:
            # interleaved: one CPU window for the whole job, shared by the targets one process serves
            served = sum(s.ok for n, s in summaries.items() if PROXY_OF.get(n) == proxy)
            cpu = cpu * summary.ok / served if served else math.nan
        cell["targets"][name] = summary.to_json()
        cell["proxies"][name] = {
            "cpu_ms_per_request": cpu,
            "added": {base_name: _as_dict(added(summary, base))},
        }


def _line(cell: dict[str, Any]) -> str:
    parts = [f"{cell['shape']:<11} {cell['mode']:<6} c={cell['concurrency']:<3}"]
    for name, entry in cell["proxies"].items():
        first = entry["added"][cell["baseline"]]
        if first is None:
            parts.append(f"{name}: no samples")
            continue
        parts.append(f"{name} +{first['p50']:.2f}/+{first['p99']:.2f} ms cpu {entry['cpu_ms_per_request']:.2f} ms")
    errors = sum(t["errors"] for t in cell["targets"].values())
    if errors:
        parts.append(f"ERRORS {errors}")
    if "peer_failure" in cell:
        parts.append(f"PEERS FAILED: {cell['peer_failure'][:120]}")
    return "  ".join(parts)
