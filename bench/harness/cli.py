"""``python bench/run.py``: start everything, run the phases, write the results and ``BENCHMARKS.md``.

::

    .venv/bin/python bench/run.py --quick                 # a minute or two, to check the harness
    .venv/bin/python bench/run.py --peers litellm,portkey # the full run that BENCHMARKS.md reports
    .venv/bin/python bench/run.py --profile               # py-spy profiles of the proxy under load

Everything runs on 127.0.0.1 in child processes that are stopped on exit, on errors, on Ctrl-C and when the
time limit (``--time-limit``) is reached.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.harness.bench import Bench
from bench.harness.capacity import decisions_phase, final_store_check, memory_phase
from bench.harness.driver import LoadGen
from bench.harness.latency import escalation_phase, open_loop_phase, ttft_phase
from bench.harness.others import OTHER_BENCHES, machine, run_others, source_state, speed_probe
from bench.harness.overhead import overhead_phase
from bench.harness.peers import (
    LITELLM_VERSION,
    PORTKEY_VERSION,
    PeerSetupError,
    default_cache,
    install_peer,
    peer_service,
)
from bench.harness.plan import Plan, full_plan, quick_plan
from bench.harness.procs import ServiceError, Services, raise_fd_limit
from bench.harness.report import render, write_report
from bench.harness.stack import fake_service, tiered_service

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[2]
PHASES = ("overhead", "ttft", "escalation", "open", "decisions", "memory")


class TimeLimitError(RuntimeError):
    pass


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases, concurrency 1 and 64, 200 streams")
    parser.add_argument("--scenarios", default="shipped,passthrough,escalated", help="request shapes to measure")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"phases to run (of {', '.join(PHASES)})")
    parser.add_argument("--concurrency", help="comma-separated concurrencies (default 1,16,64,256; quick 1,64)")
    parser.add_argument("--peers", default="", help="peers to measure too: litellm,portkey (or 'all')")
    parser.add_argument(
        "--others",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run store, backtest, soak and instruction-count benchmarks (default: on for full runs)",
    )
    parser.add_argument(
        "--out", type=Path, help="results JSON (default bench/results/latest.json, quick.json for --quick)"
    )
    parser.add_argument("--markdown", type=Path, help="write the report here (default BENCHMARKS.md for full runs)")
    parser.add_argument("--no-markdown", action="store_true", help="do not write a report")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where peers are installed (default ~/.cache/tiered-bench)"
    )
    parser.add_argument("--time-limit", type=float, default=30.0, help="minutes before everything is stopped")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary directory (logs, databases)")
    parser.add_argument("--profile", action="store_true", help="profile the proxy with py-spy instead of benchmarking")
    parser.add_argument("--render", type=Path, metavar="RESULTS", help="only render the report from a results JSON")
    return parser.parse_args(argv)


def _plan(args: argparse.Namespace) -> Plan:
    peers = ("litellm", "portkey") if args.peers == "all" else tuple(p for p in args.peers.split(",") if p)
    plan = quick_plan(peers) if args.quick else full_plan(peers)
    changes: dict[str, Any] = {"shapes": tuple(s for s in args.scenarios.split(",") if s)}
    if args.concurrency:
        changes["concurrencies"] = tuple(int(c) for c in args.concurrency.split(","))
    if args.others is not None:
        changes["others"] = args.others
    from dataclasses import replace

    return replace(plan, **changes)


def _hedging_supported() -> bool:
    return "hedge_after_ms" in _route_fields()


def _route_fields() -> set[str]:
    from tiered.config import RouteSettings

    return set(RouteSettings.model_fields)


def _hedge_config(work: Path, hedge_ms: int) -> Path:
    path = work / "tiered.toml"
    # triage_when = "always": each scenario takes the path it is named after (the expected-cost rule of
    # tiered.economics would learn that the escalated scenario's triages never ship, and stop making them)
    always = '\ntriage_when = "always"' if "triage_when" in _route_fields() else ""
    path.write_text(
        f'[routes.default]\ntiers = ["claude-haiku-4-5", "claude-opus-4-7"]{always}\n\n'
        f'[routes.hedged]\ntiers = ["claude-haiku-4-5", "claude-opus-4-7"]\nhedge_after_ms = {hedge_ms}{always}\n'
    )
    return path


def _progress(t0: float) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeLimitError("the benchmark reached its time limit (--time-limit); everything was stopped")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _start_peers(bench: Bench, cache: Path, say: Callable[[str], None]) -> float:
    t0 = time.monotonic()
    for name in bench.plan.peers:
        try:
            say(f"installing {name} (cached in {cache})")
            peer = install_peer(name, cache)
            service = bench.services.start(peer_service(peer, bench.fake.url, bench.work, bench.log_dir))
        except (PeerSetupError, ServiceError, OSError) as exc:
            bench.peer_status[name] = f"not measured: {exc}".replace("\n", " ")[:600]
            say(f"{name}: {bench.peer_status[name]}")
            continue
        bench.peers[name] = (peer, service)
        bench.peer_status[name] = f"{peer.name} {peer.version}, measured"
    return time.monotonic() - t0


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    plan = _plan(args)
    phases = set(args.phases.split(","))
    t0 = time.monotonic()
    started = datetime.now(UTC)
    say = _progress(t0)
    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="tiered-bench-"))
    log_dir = work / "logs"
    results: dict[str, Any] = {"plan": {"rounds": plan.rounds, "concurrencies": plan.concurrencies}}
    speed_start = speed_probe()
    peers_s = others_s = 0.0
    try:
        with Services() as services, LoadGen(log_dir / "loadgen.log") as loadgen:
            fake = services.start(fake_service(log_dir))
            hedging = _hedging_supported()
            config = _hedge_config(work, plan.hedge_after_ms) if hedging else None
            home = work / "tiered-home"
            tiered = services.start(tiered_service(fake.url, home, log_dir, config=config))
            say(f"fake upstream {fake.url} (pid {fake.pid}), tiered {tiered.url} (pid {tiered.pid}); work dir {work}")
            bench = Bench(plan, services, loadgen, work, log_dir, fake, tiered, home, hedging=hedging)
            peers_s = _start_peers(bench, args.cache_dir or default_cache(), say)
            if "overhead" in phases:
                results["overhead"] = overhead_phase(bench, say)
            for _, service in list(bench.peers.values()):
                services.stop(service)  # idle peers would only add noise from here on
            if "ttft" in phases:
                results["ttft"] = ttft_phase(bench, say)
            if "escalation" in phases:
                results["escalation"] = escalation_phase(bench, say)
            if "open" in phases:
                results["open_loop"] = open_loop_phase(bench, say)
            if "decisions" in phases:
                results["decisions"] = decisions_phase(bench, say)
            results["store_check"] = final_store_check(bench)
            say(f"store check: {results['store_check']['rows']}/{results['store_check']['requests_sent']} rows")
            if "memory" in phases:
                results["memory"] = memory_phase(bench, say)
        if plan.others:
            say("running " + ", ".join(script for _, script in OTHER_BENCHES.values()))
            t_others = time.monotonic()
            results["others"] = run_others()
            others_s = time.monotonic() - t_others
    finally:
        if args.keep_work:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    duration = time.monotonic() - t0
    results["meta"] = {
        "command": " ".join([".venv/bin/python", "bench/run.py", *map(shlex.quote, sys.argv[1:])]),
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": plan.quick,
        "duration_s": duration,
        "tiered_duration_s": duration - peers_s - others_s - bench.peer_jobs_s,
        "peers_setup_s": peers_s,
        "peer_jobs_s": bench.peer_jobs_s,
        "others_s": others_s,
        "machine": machine(),
        "speed": {"start": speed_start, "end": speed_probe()},
        "tiered_version": _tiered_version(),
        "source": source_state(),
        "peers": bench.peer_status,
        "incidents": bench.incidents,
        "litellm_version": LITELLM_VERSION,
        "portkey_version": PORTKEY_VERSION,
    }
    return results


def _tiered_version() -> str:
    from importlib.metadata import version

    return version("tiered")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.render is not None:
        target = args.markdown or REPO / "BENCHMARKS.md"
        write_report(target, render(json.loads(args.render.read_text())))
        print(f"report: {target}", file=sys.stderr)
        return 0
    # SIGINT too: a shell starting this in the background leaves SIGINT ignored, and Ctrl-C must still clean up
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.time_limit * 60))
    try:
        if args.profile:
            from bench.harness.profile import run_profile

            run_profile(args)
            return 0
        results = run_bench(args)
    except KeyboardInterrupt:
        print("interrupted: every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except TimeLimitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    out = args.out or REPO / "bench" / "results" / ("quick.json" if args.quick else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {out}", file=sys.stderr)
    markdown = args.markdown or (None if args.quick else REPO / "BENCHMARKS.md")
    if markdown is not None and not args.no_markdown:
        write_report(markdown, render(results))
        print(f"report: {markdown}", file=sys.stderr)
    return 0
