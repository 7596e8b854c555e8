"""The running bench: the services under test, the load generator, and the request count the decision store
must match at the end."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.driver import LoadGen, LoadGenError
from bench.harness.jobs import Call, Job, Target, TargetResult
from bench.harness.peers import Peer
from bench.harness.plan import Plan
from bench.harness.procs import Service, Services
from bench.harness.scenarios import API_HEADERS
from bench.harness.stats import Summary, summarize

__all__ = ["PROXY_OF", "Bench"]

# target name -> the watched process whose CPU time is that target's cost
PROXY_OF = {
    "tiered": "tiered",
    "tiered-hedged": "tiered",
    "litellm": "litellm",
    "litellm-passthrough": "litellm",
    "portkey": "portkey",
}


@dataclass
class Bench:
    plan: Plan
    services: Services
    loadgen: LoadGen
    work: Path
    log_dir: Path
    fake: Service
    tiered: Service
    tiered_home: Path
    peers: dict[str, tuple[Peer, Service]] = field(default_factory=dict)
    peer_status: dict[str, str] = field(default_factory=dict)
    hedging: bool = False
    tiered_sent: int = 0  # every request sent to the main proxy: its decision store must hold as many rows
    peer_jobs_s: float = 0.0  # wall time of the peers' jobs (their own baselines included)
    peers_warmed: bool = False  # the peers' first job warms them up for longer (bench/harness/overhead.py)
    incidents: list[str] = field(default_factory=list)  # jobs that overran and were run again

    def watch(self, *extra: Service) -> dict[str, int]:
        out = {"tiered": self.tiered.pid, "fake": self.fake.pid}
        for _, service in self.peers.values():
            if service.alive():  # peers are stopped once their phase is over
                out[service.name] = service.pid
        for service in extra:
            out[service.name] = service.pid
        return out

    def tiered_call(self, body: dict[str, Any], stream: bool) -> Call:
        return Call(self.tiered.url + "/v1/messages", body, dict(API_HEADERS), stream)

    def direct_call(self, body: dict[str, Any]) -> Call:
        return Call(self.fake.url + "/v1/messages", body, dict(API_HEADERS), bool(body.get("stream")))

    def run(self, job: Job) -> dict[str, Summary]:
        results = self._run(job)
        self.count(job.targets, results)
        return {r.name: summarize(r) for r in results}

    def run_raw(self, job: Job) -> list[TargetResult]:
        results = self._run(job)
        self.count(job.targets, results)
        return results

    def _run(self, job: Job) -> list[TargetResult]:
        """A job that overruns its time (a request stuck past its own timeout) is reported and run once more;
        the incident, with what was in flight, goes into the results and the report."""
        try:
            return self.loadgen.run(job)
        except LoadGenError as exc:
            if "did not finish" not in str(exc) or self.incidents:
                raise
            targets = ", ".join(t.name for t in job.targets)
            self.incidents.append(f"{job.mode} job ({targets}, concurrency {job.concurrency}): {exc}")
            print(f"the load generator overran a job; running it once more:\n{exc}", file=sys.stderr, flush=True)
            return self.loadgen.run(job)

    def count(self, targets: tuple[Target, ...], results: list[TargetResult]) -> None:
        for target, result in zip(targets, results, strict=True):
            if target.calls and target.calls[0].url.startswith(self.tiered.url + "/"):
                self.tiered_sent += result.sent
