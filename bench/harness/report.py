"""``BENCHMARKS.md`` rendered from a results JSON (``bench/results/latest.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness.report_peers import peers_section
from bench.harness.tables import ms as _ms
from bench.harness.tables import table as _table
from bench.harness.targets import judge

__all__ = ["HAND_RUN_MARKER", "render", "write_report"]


def _dist(summary: dict[str, Any], field: str, q: str) -> Any:
    dist = summary.get(field)
    return None if dist is None else dist[q]


def _speed_line(speed: dict[str, dict[str, float]] | None) -> str:
    """The machine's speed during the run, from the reference loop timed at its start and end."""
    if not speed:
        return ""
    start, end = speed["start"], speed["end"]
    return (
        "- Machine speed: a fixed pure-Python loop (`speed_probe` in `bench/harness/others.py`, lower is faster) "
        f"took {start['min_s']:.3f} to {start['max_s']:.3f} s of CPU (median {start['median_s']:.3f}) at the start "
        f"and {end['min_s']:.3f} to {end['max_s']:.3f} s (median {end['median_s']:.3f}) at the end; it has measured "
        "0.13 to 0.26 s on this machine at different times, so CPU times move with it from run to run\n"
    )


def _overhead(results: dict[str, Any], mode: str) -> str:
    stream = mode == "stream"
    header = ["scenario", "c", "baseline", "direct p50/p99", "tiered p50/p99", "added p50/p99", "ratio p50"]
    if stream:
        header += ["added TTFB p50/p99"]
    header += ["tiered CPU ms/req", "fake CPU ms/call", "tiered req/s", "errors"]
    rows = []
    for cell in results.get("overhead", []):
        if cell["mode"] != mode:
            continue
        tiered = cell["targets"]["tiered"]
        entry = cell["proxies"]["tiered"]
        for base_name, a in entry["added"].items():
            base = cell["targets"][base_name]
            row = [
                cell["shape"],
                str(cell["concurrency"]),
                base_name,
                f"{_ms(_dist(base, 'total', 'p50'))} / {_ms(_dist(base, 'total', 'p99'))}",
                f"{_ms(_dist(tiered, 'total', 'p50'))} / {_ms(_dist(tiered, 'total', 'p99'))}",
                "n/a" if a is None else f"**{_ms(a['p50'])} / {_ms(a['p99'])}**",
                "n/a" if a is None else f"{_ms(a['ratio_p50'])}x",
            ]
            if stream:
                row.append("n/a" if a is None else f"{_ms(a['ttfb_p50'])} / {_ms(a['ttfb_p99'])}")
            row += [
                _ms(entry["cpu_ms_per_request"], 3),
                _ms(cell["fake_cpu_ms_per_call"], 3),
                f"{tiered['rps']:.0f}",
                str(tiered["errors"] + base["errors"]),
            ]
            rows.append(row)
    return _table(header, rows)


def _duration(meta: dict[str, Any]) -> str:
    """How long the run took, and the part that was tiered's own (when the peers' share was measured)."""
    kind = "quick" if meta["quick"] else "full"
    text = f"{kind} run, {meta['duration_s']:.0f} s"
    if "peer_jobs_s" in meta or not meta.get("peers"):
        text += f"; tiered alone: {meta['tiered_duration_s']:.0f} s"
    return text


def _ttft(results: dict[str, Any]) -> str:
    data = results.get("ttft")
    if not data:
        return "_Not measured in this run._"
    rows = []
    for name, s in data["targets"].items():
        rows.append(
            [
                name,
                f"{_ms(_dist(s, 'ttft', 'p50'), 1)} / {_ms(_dist(s, 'ttft', 'p99'), 1)}",
                f"{_ms(_dist(s, 'total', 'p50'), 1)} / {_ms(_dist(s, 'total', 'p99'), 1)}",
                str(s["ok"]),
            ]
        )
    model = data["latency_model"]
    return (
        f"Fake latency model: first token after {model['ttft_ms']} ms, then {model['tokens_per_s']} tokens/s; "
        f"60-token answers. tiered minus the cheap model called directly: time to first token "
        f"**{_ms(data['ttft_vs_cheap_p50'], 1)} ms** at p50, {_ms(data['ttft_vs_cheap_p99'], 1)} ms at p99 "
        f"({_ms(data['ttft_vs_triage_call_p50'], 1)} ms after the first token of the triage call itself).\n\n"
        + _table(["target", "TTFT p50/p99 ms", "full response p50/p99 ms", "requests"], rows)
    )


def _escalation(results: dict[str, Any]) -> str:
    data = results.get("escalation")
    if not data:
        return "_Not measured in this run._"
    parts = []
    for mode, block in data["modes"].items():
        rows = []
        costs = block.get("cost_usd_per_request", {})
        for name, s in block["targets"].items():
            penalty = block["penalty"].get(name)
            field = "ttft" if mode == "stream" else "total"
            cost = costs.get(name)
            rows.append(
                [
                    name,
                    f"{_ms(_dist(s, field, 'p50'), 1)} / {_ms(_dist(s, field, 'p99'), 1)}",
                    "-" if penalty is None else f"**{_ms(penalty['p50'], 1)}** / {_ms(penalty['p99'], 1)}",
                    "-" if cost is None else f"{cost:.6f}",
                    str(s["ok"]),
                ]
            )
        header = [
            "target",
            f"{block['measure']} p50/p99 ms",
            "penalty vs direct-final p50/p99 ms",
            "recorded cost USD/req",
        ]
        parts.append(f"**{mode}** ({block['measure']}):\n\n" + _table([*header, "requests"], rows))
    hedge = (
        f"Hedging (`hedge_after_ms = {data['hedge_after_ms']}`) is measured as `tiered-hedged`."
        if data["hedging"]
        else "Hedged escalation (`hedge_after_ms`) is not in this build of tiered, so it is not measured."
    )
    return (
        f"The triage reports confidence 0.6 first and then writes a 200-token answer; the final tier answers 60 "
        f"tokens; every model: first token after {data['latency_model']['ttft_ms']} ms, then "
        f"{data['latency_model']['tokens_per_s']} tokens/s. Target: penalty <= {data['target_ms']:.0f} ms. "
        f"`naive-cascade` is the fake called directly: the whole triage, then the final call. {hedge}\n\n"
        + "\n\n".join(parts)
    )


def _open_loop(results: dict[str, Any]) -> str:
    data = results.get("open_loop")
    if not data:
        return "_Not measured in this run._"
    rows = []
    for name, s in data["targets"].items():
        rows.append(
            [
                name,
                f"{_ms(_dist(s, 'total', 'p50'))} / {_ms(_dist(s, 'total', 'p99'))}",
                f"{_ms(_dist(s, 'start_lag', 'p99'))}",
                str(s["ok"]),
                str(s["errors"]),
            ]
        )
    return (
        f"Shipped JSON requests started at a fixed {data['rate_per_s']:.0f}/s; latency counts from each request's "
        f"intended start, so a stall is paid by every request scheduled during it. Added p50/p99: "
        f"**{_ms(data['added_p50'])} / {_ms(data['added_p99'])} ms**.\n\n"
        + _table(["target", "latency p50/p99 ms", "start lag p99 ms", "requests", "errors"], rows)
    )


def _store(results: dict[str, Any]) -> str:
    d, check = results.get("decisions"), results.get("store_check")
    lines = []
    if d:
        lines.append(
            f"- Shipped JSON at concurrency {d['concurrency']}: **{d['responses_per_s']:.0f} responses/s** through the "
            f"proxy, **{d['decisions_written_per_s']:.0f} decisions/s** written to SQLite meanwhile "
            f"({d['responses']} responses, {d['errors']} errors); the store had every row "
            f"{_ms(d['caught_up_after_s'])} s after the load stopped. `/readyz`: `{d['readyz']}`."
        )
    if check:
        lines.append(
            f"- After a graceful stop: **{check['rows']} rows for {check['requests_sent']} requests sent** "
            f"(missing: {check['missing']}), {check['spool_files_left']} spool files left, exit code "
            f"{check['exit_code']}; RSS before the stop {check['rss_mb_at_end']:.0f} MB."
        )
    return "\n".join(lines) or "_Not measured in this run._"


def _memory(results: dict[str, Any]) -> str:
    m = results.get("memory")
    if not m:
        return "_Not measured in this run._"
    return (
        f"A fresh proxy, {m['streams']} shipped streams opened at once by {m.get('clients', 1)} clients (API keys; "
        "one key may hold 512 requests in flight), decision after 3 s, then 20 tokens at 4/s; "
        f"{m['max_in_flight']} in flight together: RSS idle **{m['rss_mb_idle']:.0f} MB**, with all in flight "
        f"**{m['rss_mb_all_in_flight']:.0f} MB**, peak **{m['rss_mb_peak']:.0f} MB** ({m['ok']} completed, "
        f"{m['errors']} errors; slowest first byte {_ms(m['slowest_first_byte_s'])} s). Fake peak "
        f"{m['fake_rss_mb_peak']:.0f} MB, load generator peak {m['loadgen_rss_mb_peak']:.0f} MB."
    )


def _others(results: dict[str, Any]) -> str:
    data = results.get("others")
    if not data:
        return "_Not run in this run (`--others` runs them)._"
    parts = []
    for block in data.values():
        parts.append(
            f"### {block['title']}\n\n`{block['command']}` ({block['seconds']:.0f} s, exit {block['exit_code']}):\n\n"
            f"```\n{block['output']}\n```"
        )
    return "\n\n".join(parts)


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    verdicts = judge(results)
    target_rows = [
        [v.issue, v.target, v.value, {True: "met", False: "**not met**", None: "not measured"}[v.met]] for v in verdicts
    ]
    peers = meta.get("peers", {})
    peer_lines = "\n".join(f"  - {name}: {status}" for name, status in peers.items()) or "  - none requested"
    incidents = meta.get("incidents") or []
    incident_lines = (
        "\n- Incidents (a job overran its time and was run once more; what was in flight):\n"
        + "\n".join("  - " + " ".join(text.split())[:600] for text in incidents)
        if incidents
        else ""
    )
    speed_line = _speed_line(meta.get("speed"))
    return f"""# Benchmarks

Generated by `bench/run.py` from `bench/results/latest.json`; do not edit by hand.

> These numbers come from one run on this 2-core machine (load average {m["load_average_at_start"]} at the
> start); the proxy, the fake upstream, the peers and the load generator share its two cores, so absolute
> latencies under load include queueing on them. Every comparison is a ratio or a difference against
> baselines measured in the same run, interleaved with the proxy's own measurements.

- Command: `{meta["command"]}` ({_duration(meta)})
- Date: {meta["started"]}
- Machine: {m["nproc"]} CPUs, {m["cpu"]}; Python {m["python"]}; {m["platform"]}; Node {m["node"]}
{speed_line}- Stack: {m["libraries"]}; tiered {meta["tiered_version"]} at {meta.get("source", "an unrecorded commit")}
- Peers:
{peer_lines}{incident_lines}

## Targets

{_table(["issue", "target", "this run", "verdict"], target_rows)}

## How it is measured

The fake upstream (`tiered fake-upstream`), the proxy (`tiered serve`, SQLite decision store in a temporary
`TIERED_HOME`, pass-through auth), the peers and the load generator are separate processes on 127.0.0.1. The load
generator (`bench/harness/loadgen.py`) uses httpx2 with keep-alive and one pooled client per target; warm-up is
not counted. Closed loop: N workers send back to back. At concurrency 1 the targets alternate request by
request; above it each target runs alone for a slice, in {results["plan"]["rounds"]} round(s). Every
request is scripted with inline `[[fake ...]]` directives, and each baseline replays exactly the upstream request
bodies the proxy made (captured from the fake's request log), so the difference is the proxy. Added latency is
the proxy's percentile minus the baseline's. CPU time is utime+stime of the proxy process from `/proc` around
each measured slice, divided by completed requests (so it includes the decision writer thread and the SQLite
inserts); with three or more rounds, the median of the slices' values (this 2-core virtual machine's speed
drifts from second to second: the same pure-Python loop has taken 0.15 to 0.26 s of CPU a second apart, so one
slow slice must not decide a cell; the per-slice values are in the results JSON). Stream latency is the full
response; TTFB is the response headers, TTFT the first `content_block_delta`.

Baselines: `shipped` (the proxy makes one triage call and ships its answer) against that triage call made
directly; `passthrough` (a plain model name) against the same request made directly; `escalated` (triage, then
the final tier) against the two calls back to back (`direct-2calls`) and against the final call alone
(`direct-final`). The fake answers at once (zero latency) in these tables. Above concurrency 1 the load
generator, the fake and the proxy share the two cores, so both sides' latencies are mostly queueing, and the
queues differ: a p99 difference, or an escalated request against two calls that the load generator makes back to
back (spending its own CPU on each), can come out negative. The concurrency-1 rows give the latency the proxy
adds; under load, its CPU per request is its cost.

## Added latency and proxy CPU: JSON

{_overhead(results, "json")}

## Added latency and proxy CPU: streaming

{_overhead(results, "stream")}

## Side by side with LiteLLM and Portkey

{peers_section(results)}

## Time to first token of shipped streamed answers

{_ttft(results)}

## Escalation penalty

{_escalation(results)}

## Open loop

{_open_loop(results)}

## Decision store under load

{_store(results)}

## Memory with concurrent streams

{_memory(results)}

## Numbers from other benchmarks

{_others(results)}

## Profiles

`.venv/bin/python bench/run.py --profile` samples the proxy with py-spy (installed into a throwaway virtualenv)
under shipped JSON, shipped streaming, pass-through JSON and escalated streaming load at concurrency 64, and writes
the functions with the most samples to `bench/results/profile-<load>.txt`.
"""


HAND_RUN_MARKER = "<!-- Sections below are run by hand (each names its command); bench/run.py keeps them. -->"


def write_report(path: Path, generated: str) -> None:
    """Write ``generated`` to ``path``, keeping whatever an existing file has from :data:`HAND_RUN_MARKER` on:
    sections measured by their own scripts (recommender, confidence signals) are not re-run by a full run, and
    regenerating the report must not delete them."""
    kept = ""
    if path.exists():
        old = path.read_text()
        at = old.find(HAND_RUN_MARKER)
        if at >= 0:
            kept = "\n" + old[at:]
    path.write_text(generated.rstrip("\n") + "\n" + kept)
