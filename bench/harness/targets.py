"""The targets from the issues, judged against one run's results."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Verdict", "judge"]


@dataclass(frozen=True, slots=True)
class Verdict:
    issue: str
    target: str
    value: str
    met: bool | None  # None: not measured in this run

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float | None, unit: str = "ms") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.2f} {unit}"


def _cells(results: dict[str, Any], concurrency: int) -> list[dict[str, Any]]:
    return [c for c in results.get("overhead", []) if c["concurrency"] == concurrency]


def _added(cell: dict[str, Any], proxy: str) -> dict[str, Any] | None:
    entry = cell["proxies"].get(proxy)
    if entry is None:
        return None
    found: dict[str, Any] | None = entry["added"].get(cell["baseline"])
    return found


def judge(results: dict[str, Any]) -> list[Verdict]:
    out: list[Verdict] = []
    for cell in _cells(results, 1):
        a = _added(cell, "tiered")
        label = f"{cell['shape']} {cell['mode']}"
        if a is None:
            out.append(Verdict("3, 8", f"added latency c=1 {label}", "no samples", None))
            continue
        out.append(Verdict("3, 8", f"added latency c=1 p50 <= 1 ms ({label})", _fmt(a["p50"]), a["p50"] <= 1.0))
        out.append(Verdict("3, 8", f"added latency c=1 p99 <= 3 ms ({label})", _fmt(a["p99"]), a["p99"] <= 3.0))
    for cell in _cells(results, 64):
        cpu = cell["proxies"]["tiered"]["cpu_ms_per_request"]
        limit = 0.5 if cell["mode"] == "json" else 1.0
        out.append(
            Verdict(
                "3, 8",
                f"proxy CPU c=64 <= {limit} ms/request ({cell['shape']} {cell['mode']})",
                _fmt(cpu),
                None if math.isnan(cpu) else cpu <= limit,
            )
        )
    for cell in results.get("overhead", []):
        mine = cell["proxies"].get("tiered")
        mine_added = _added(cell, "tiered")
        label = f"{cell['shape']} {cell['mode']} c={cell['concurrency']}"
        if "peer_failure" in cell:
            out.append(
                Verdict(
                    "8", f"less added latency (p50 and p99) and CPU than the peers ({label})", "peers' job failed", None
                )
            )
        for peer, entry in cell["proxies"].items():
            if peer.startswith("tiered") or mine is None or mine_added is None:
                continue
            theirs = entry["added"].get(cell["baseline"])
            if theirs is None:
                continue
            less_latency = mine_added["p50"] < theirs["p50"] and mine_added["p99"] < theirs["p99"]
            less_cpu = mine["cpu_ms_per_request"] < entry["cpu_ms_per_request"]
            out.append(
                Verdict(
                    "8",
                    f"less added latency (p50 and p99) and CPU than {peer} ({label})",
                    f"{_fmt(mine_added['p50'])}/{_fmt(mine_added['p99'])}, {_fmt(mine['cpu_ms_per_request'])} vs "
                    f"{_fmt(theirs['p50'])}/{_fmt(theirs['p99'])}, {_fmt(entry['cpu_ms_per_request'])}",
                    less_latency and less_cpu,
                )
            )
    escalation = results.get("escalation")
    if escalation:
        limit = escalation["target_ms"]
        for mode, data in escalation["modes"].items():
            penalty = data["penalty"]["tiered"]["p50"]
            out.append(
                Verdict(
                    "3",
                    f"escalation penalty p50 <= cheap ttft + 10 tokens = {limit:.0f} ms ({mode})",
                    _fmt(penalty),
                    None if penalty is None else penalty <= limit,
                )
            )
    memory = results.get("memory")
    if memory:
        ok = memory["ok"] == memory["streams"] and memory["max_in_flight"] == memory["streams"]
        out.append(
            Verdict(
                "8",
                f"RSS with {memory['streams']} concurrent streams < 300 MB",
                f"{memory['rss_mb_peak']:.0f} MB",
                memory["rss_mb_peak"] < 300 and ok if memory["streams"] >= 1000 else None,
            )
        )
    store = results.get("store_check")
    if store:
        out.append(
            Verdict(
                "4",
                "no decision dropped (rows == requests sent, empty spool)",
                f"{store['rows']}/{store['requests_sent']}, {store['spool_files_left']} spool files",
                store["missing"] == 0 and store["spool_files_left"] == 0,
            )
        )
    decisions = results.get("decisions")
    if decisions:
        rate = decisions["decisions_written_per_s"]
        out.append(
            Verdict(
                "4",
                "store keeps up with the proxy (written/s >= 95% of responses/s, caught up after the load)",
                f"{rate:.0f} written/s for {decisions['responses_per_s']:.0f} responses/s",
                rate >= 0.95 * decisions["responses_per_s"] and decisions["caught_up_after_s"] is not None,
            )
        )
    return out
