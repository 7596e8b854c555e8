"""The report's section on the peers: every peer cell next to tiered's, and each proxy's figures for the
request shapes side by side, so that one proxy's pass-through and shipped numbers are read on one line."""

from __future__ import annotations

from typing import Any

from bench.harness.tables import ms, table

__all__ = ["peers_section"]

# the shapes in the order a reader compares them: plain forwarding first, then one routed call, then two
_SHAPES = ("passthrough", "shipped", "escalated")

_INTRO = """\
Same fake, same run. The peers do not route, so each is given the upstream calls tiered made for the scenario
(captured from the fake's request log): for `passthrough` the client's request itself; for `shipped` the
triage call; for `escalated` the triage call and then the final call, back to back. Each call is made in the
client's response kind: tiered streams its triage call even for a JSON client (it reads the confidence first
and can stop early), but a peer serving that client makes a JSON call, so in the `json` rows the peers make the
same calls without `"stream": true` (made to stream, a peer would be measured on its stream handling in a JSON
scenario: Portkey's `shipped json` once read +29 ms against +1.9 ms for `passthrough json` that way). Their
added latency is measured against those calls made directly (in the peers' own job), the baseline tiered is
judged on (`direct`, or `direct-2calls` for `escalated`); so for `shipped` and `escalated` tiered does more
than the peer (the triage instruction, the decision, the early abort, the record) and is still compared with a
peer that only forwards. The last column is tiered's added p50 latency and CPU per request divided by the
peer's (below 1: tiered is cheaper; negative: tiered was faster than the calls made directly)."""

_BY_SCENARIO = """\
Each proxy's figures for the request shapes side by side (added p50 / p99 latency in ms, then CPU ms per
request, from the table above). A peer only forwards in every shape, so its `passthrough` and `shipped` figures
should be close: the difference is the bigger triage body (the instruction and the output schema), not more
work. For tiered the difference is what the cascade costs over plain forwarding."""

_NOTES = """\
- **LiteLLM** {litellm}: `litellm --config <cfg>` (one uvicorn worker, its defaults otherwise; a master key is set
  because this release refuses to start without one). Two routes are measured: `litellm` is its own
  `/v1/messages` endpoint with two `model_list` entries (`anthropic/claude-haiku-4-5` and
  `anthropic/claude-opus-4-7`, `api_base` = the fake);
  `litellm-passthrough` is its Anthropic pass-through route `/anthropic/v1/messages` (`ANTHROPIC_API_BASE` =
  the fake). Installed by the script into a throwaway virtualenv under `~/.cache/tiered-bench`.
- **Portkey** {portkey}: `node build/start-server.js --headless` with `NODE_ENV=production`, reached with
  `x-portkey-provider: anthropic` and `x-portkey-custom-host: <fake>/v1`. `@hono/node-server` is pinned to
  1.14.2 (Portkey-AI/gateway#1389) and a small preload (`bench/harness/portkey_shim.mjs`) binds it to
  127.0.0.1 and re-wraps upstream `fetch()` responses, without which every streamed `/v1/messages` fails with
  `TypeError: immutable` on Node (Portkey-AI/gateway#1550). Its streamed figures include a deliberate wait:
  the gateway sleeps 25 ms before relaying the first event of every stream (`readStream` in
  `src/handlers/streamHandler.ts` of Portkey-AI/gateway; `strace` shows it as a 25 ms wait between reading
  the fake's whole reply and writing the first byte). It is Portkey's behaviour, paid by its users, so it stays
  in the numbers.
- Nagle's algorithm is off on every socket the harness opens (`bench/harness/nodelay.py`), and the servers
  set it on theirs, so no figure here includes a small write waiting for a delayed ACK."""


def _cell_rows(cell: dict[str, Any]) -> list[list[str]]:
    where = [cell["shape"], cell["mode"], str(cell["concurrency"])]
    rows = []
    if "peer_failure" in cell:
        failure = cell["peer_failure"].replace("\n", " ")[:200]
        rows.append([*where, "peers", f"job failed: {failure}", "", "", "", ""])
    if len(cell["proxies"]) < 2:
        return rows
    mine = cell["proxies"]["tiered"]
    mine_added = mine["added"][cell["baseline"]]
    for name, entry in cell["proxies"].items():
        a = entry["added"][cell["baseline"]]
        target = cell["targets"][name]
        ratio = "-"
        if name != "tiered" and a and mine_added and a["p50"] > 0 and entry["cpu_ms_per_request"] > 0:
            cpu_ratio = mine["cpu_ms_per_request"] / entry["cpu_ms_per_request"]
            ratio = f"{mine_added['p50'] / a['p50']:.2f}, {cpu_ratio:.2f}"
        rows.append(
            [
                *where,
                name,
                "n/a" if a is None else f"{ms(a['p50'])} / {ms(a['p99'])}",
                ms(entry["cpu_ms_per_request"], 3),
                f"{target['rps']:.0f}",
                str(target["errors"]),
                ratio,
            ]
        )
    return rows


def _by_cell(results: dict[str, Any]) -> str:
    header = ["scenario", "mode", "c", "proxy", "added p50/p99 ms", "CPU ms/req", "req/s", "errors"]
    rows = [row for cell in results.get("overhead", []) for row in _cell_rows(cell)]
    return table([*header, "tiered / this (added p50, CPU)"], rows)


def _figures(entry: dict[str, Any], baseline: str) -> tuple[str, float | None]:
    """``p50 / p99, cpu`` of one proxy in one cell, and its added p50."""
    a = entry["added"].get(baseline)
    cpu = ms(entry["cpu_ms_per_request"], 3)
    if a is None:
        return f"n/a, {cpu}", None
    p50: float = a["p50"]
    return f"{ms(p50)} / {ms(a['p99'])}, {cpu}", p50


def _by_scenario(results: dict[str, Any]) -> str:
    cells = [c for c in results.get("overhead", []) if len(c["proxies"]) > 1]
    shapes = [s for s in _SHAPES if any(c["shape"] == s for c in cells)]
    lines: dict[tuple[str, int, str], dict[str, tuple[str, float | None]]] = {}
    for cell in cells:
        for name, entry in cell["proxies"].items():
            key = (cell["mode"], cell["concurrency"], name)
            lines.setdefault(key, {})[cell["shape"]] = _figures(entry, cell["baseline"])
    rows = []
    for (mode, concurrency, name), by_shape in lines.items():
        row = [mode, str(concurrency), name, *(by_shape.get(s, ("-", None))[0] for s in shapes)]
        shipped, passthrough = by_shape.get("shipped", ("", None))[1], by_shape.get("passthrough", ("", None))[1]
        if "shipped" in shapes and "passthrough" in shapes:
            row.append("-" if shipped is None or passthrough is None else ms(shipped - passthrough))
        rows.append(row)
    header = ["mode", "c", "proxy", *(f"{s}: added p50 / p99, CPU" for s in shapes)]
    if "shipped" in shapes and "passthrough" in shapes:
        header.append("shipped - passthrough added p50 ms")
    return table(header, rows)


def peers_section(results: dict[str, Any]) -> str:
    """The body of "Side by side with LiteLLM and Portkey"."""
    meta = results["meta"]
    notes = _NOTES.format(litellm=meta.get("litellm_version", ""), portkey=meta.get("portkey_version", ""))
    cells = results.get("overhead", [])
    if not any(len(c["proxies"]) > 1 or "peer_failure" in c for c in cells):
        return f"{_INTRO}\n\n_No peer was measured in this run._\n\n{notes}"
    by_scenario = _by_scenario(results) if any(len(c["proxies"]) > 1 for c in cells) else "_No peer figures._"
    return f"{_INTRO}\n\n{_by_cell(results)}\n\n{_BY_SCENARIO}\n\n{by_scenario}\n\n{notes}"
