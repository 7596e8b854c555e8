"""End-to-end latency with a realistic latency model: time to first token of shipped answers, the escalation
penalty (early abort, naive cascade, hedging), and an open-loop run."""

from __future__ import annotations

import time
from typing import Any

from bench.harness.bench import Bench
from bench.harness.jobs import Job, Target
from bench.harness.overhead import check_probe
from bench.harness.scenarios import CHEAP, LATENCY, body, overhead_scenarios, realistic_escalated, realistic_shipped
from bench.harness.stack import decisions_count, probe, route_costs
from bench.harness.stats import Summary

__all__ = ["escalation_phase", "open_loop_phase", "ttft_phase"]


def _p(summary: Summary, field: str, q: str = "p50") -> float | None:
    dist = getattr(summary, field)
    return None if dist is None else float(getattr(dist, q))


def _realistic_job(bench: Bench, targets: list[Target]) -> Job:
    plan = bench.plan
    return Job(
        mode="closed",
        targets=tuple(targets),
        concurrency=plan.realistic_concurrency,
        warmup_s=0.2,
        duration_s=plan.realistic_duration_s,
        rounds=1,
        watch=bench.watch(),
        timeout_s=60.0,
    )


def ttft_phase(bench: Bench, progress: Any) -> dict[str, Any]:
    """Shipped streamed answers: first token through tiered versus the cheap model called directly."""
    scenario = realistic_shipped()
    request = body(scenario, stream=True)
    seen = probe(bench.tiered.url, bench.fake.url, request)
    bench.tiered_sent += 1
    check_probe(scenario, seen)
    targets = [
        Target("tiered", (bench.tiered_call(request, True),)),
        Target("direct-cheap", (bench.direct_call(body(scenario, stream=True, model=CHEAP)),)),
        Target("direct-triage", (bench.direct_call(seen.bodies()[0]),)),
    ]
    summaries = bench.run(_realistic_job(bench, targets))
    tiered, cheap, triage = summaries["tiered"], summaries["direct-cheap"], summaries["direct-triage"]
    out = {
        "latency_model": {"ttft_ms": LATENCY.ttft_ms, "tokens_per_s": LATENCY.tokens_per_s},
        "targets": {n: s.to_json() for n, s in summaries.items()},
        "ttft_vs_cheap_p50": _delta(tiered, cheap, "ttft", "p50"),
        "ttft_vs_cheap_p99": _delta(tiered, cheap, "ttft", "p99"),
        "ttft_vs_triage_call_p50": _delta(tiered, triage, "ttft", "p50"),
    }
    progress(
        f"ttft shipped: tiered p50 {_p(tiered, 'ttft')} ms, cheap direct {_p(cheap, 'ttft')} ms "
        f"(+{out['ttft_vs_cheap_p50']})"
    )
    return out


def _delta(a: Summary, b: Summary, field: str, q: str) -> float | None:
    x, y = _p(a, field, q), _p(b, field, q)
    return None if x is None or y is None else x - y


def escalation_phase(bench: Bench, progress: Any) -> dict[str, Any]:
    """Escalated requests versus the final tier called directly, with tiered's early abort, a naive cascade
    that waits for the whole triage, and (when the build has it) hedging."""
    scenario = realistic_escalated()
    out: dict[str, Any] = {
        "latency_model": {"ttft_ms": LATENCY.ttft_ms, "tokens_per_s": LATENCY.tokens_per_s},
        "target_ms": LATENCY.ttft_ms + LATENCY.tokens_ms(10),
        "hedging": bench.hedging,
        "hedge_after_ms": bench.plan.hedge_after_ms if bench.hedging else None,
        "modes": {},
    }
    for mode in bench.plan.modes:
        stream = mode == "stream"
        request = body(scenario, stream=stream)
        seen = probe(bench.tiered.url, bench.fake.url, body(scenario, stream=True))
        bench.tiered_sent += 1
        check_probe(scenario, seen)
        triage_body, final_body = seen.bodies()
        whole_triage = {k: v for k, v in triage_body.items() if k != "stream"}
        final = final_body if stream else {k: v for k, v in final_body.items() if k != "stream"}
        targets = [
            Target("tiered", (bench.tiered_call(request, stream),)),
            Target("direct-final", (bench.direct_call(final),)),
            Target("naive-cascade", (bench.direct_call(whole_triage), bench.direct_call(final))),
        ]
        if bench.hedging:
            targets.append(Target("tiered-hedged", (bench.tiered_call({**request, "model": "tiered/hedged"}, stream),)))
        before = route_costs(bench.tiered_home)
        summaries = bench.run(_realistic_job(bench, targets))
        costs = _cost_per_request(bench, before)
        field = "ttft" if stream else "total"
        base = summaries["direct-final"]
        penalties = {
            name: {"p50": _delta(s, base, field, "p50"), "p99": _delta(s, base, field, "p99")}
            for name, s in summaries.items()
            if name != "direct-final"
        }
        out["modes"][mode] = {
            "measure": "time to first token" if stream else "full response time",
            "targets": {n: s.to_json() for n, s in summaries.items()},
            "penalty": penalties,
            "cost_usd_per_request": costs,
        }
        progress(
            f"escalation {mode}: penalty p50 tiered {penalties['tiered']['p50']} ms, "
            f"naive {penalties['naive-cascade']['p50']} ms"
        )
    return out


def _cost_per_request(bench: Bench, before: dict[str, tuple[int, float]]) -> dict[str, float]:
    """Mean recorded cost of the decisions made since ``before``, by target (the store may lag a little)."""
    deadline = time.monotonic() + 30
    while decisions_count(bench.tiered_home) < bench.tiered_sent and time.monotonic() < deadline:
        time.sleep(0.1)
    after = route_costs(bench.tiered_home)
    out: dict[str, float] = {}
    for route, target in (("default", "tiered"), ("hedged", "tiered-hedged")):
        n0, c0 = before.get(route, (0, 0.0))
        n1, c1 = after.get(route, (0, 0.0))
        if n1 > n0:
            out[target] = (c1 - c0) / (n1 - n0)
    return out


def open_loop_phase(bench: Bench, progress: Any) -> dict[str, Any]:
    """Shipped JSON requests at a fixed rate; latency counts from each request's intended start."""
    plan = bench.plan
    scenario = overhead_scenarios()["shipped"]
    request = body(scenario, stream=False)
    seen = probe(bench.tiered.url, bench.fake.url, request)
    bench.tiered_sent += 1
    check_probe(scenario, seen)
    targets = (
        Target("tiered", (bench.tiered_call(request, False),)),
        Target("direct", (bench.direct_call(seen.bodies()[0]),)),
    )
    job = Job(
        mode="open",
        targets=targets,
        concurrency=4,
        warmup_s=0.3,
        duration_s=plan.open_duration_s,
        rounds=min(plan.rounds, 2),  # latency under an open loop; CPU is not judged here
        rate=plan.open_rate,
        watch=bench.watch(),
        timeout_s=30.0,
    )
    summaries = bench.run(job)
    tiered, direct = summaries["tiered"], summaries["direct"]
    out = {
        "rate_per_s": plan.open_rate,
        "targets": {n: s.to_json() for n, s in summaries.items()},
        "added_p50": _delta(tiered, direct, "total", "p50"),
        "added_p99": _delta(tiered, direct, "total", "p99"),
    }
    progress(f"open loop {plan.open_rate:.0f}/s: added p50 {out['added_p50']} ms, p99 {out['added_p99']} ms")
    return out
