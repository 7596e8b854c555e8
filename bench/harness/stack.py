"""The systems under test: the fake upstream and the tiered proxy, as separate processes on loopback, and
the probe that shows what a request really does upstream."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.nodelay import http_request
from bench.harness.procs import LOOPBACK, Service, free_port
from bench.harness.scenarios import API_HEADERS

__all__ = ["Probe", "decisions_count", "fake_service", "probe", "route_costs", "spool_files", "tiered_service"]

REPO = Path(__file__).resolve().parents[2]
TIERED = REPO / ".venv" / "bin" / "tiered"


def fake_service(log_dir: Path) -> Service:
    port = free_port()
    return Service(
        name="fake",
        argv=[str(TIERED), "fake-upstream", "--host", LOOPBACK, "--port", str(port)],
        port=port,
        ready_path="/_fake/health",
        log_path=log_dir / "fake.log",
    )


def tiered_service(
    fake_url: str, home: Path, log_dir: Path, *, name: str = "tiered", config: Path | None = None
) -> Service:
    port = free_port()
    argv = [str(TIERED), "serve", "--host", LOOPBACK, "--port", str(port)]
    if config is not None:
        argv += ["--config", str(config)]
    home.mkdir(parents=True, exist_ok=True)
    return Service(
        name=name,
        argv=argv,
        port=port,
        ready_path="/readyz",
        env={"ANTHROPIC_BASE_URL": fake_url, "TIERED_HOME": str(home)},
        # pass-through auth, the bench's store and config only: nothing of the caller's setup leaks in
        unset_prefixes=("TIERED_", "ANTHROPIC_", "OPENAI_"),
        cwd=home,
        log_path=log_dir / f"{name}.log",
    )


def _http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    status, head, raw = http_request(method, url, data, {"content-type": "application/json", **(headers or {})})
    if status >= 400:
        raise RuntimeError(f"{method} {url}: HTTP {status}: {raw[:300]!r}")
    if head.get("content-type", "").startswith("text/event-stream"):
        return raw.decode(), head
    return json.loads(raw) if raw else None, head


@dataclass(frozen=True, slots=True)
class Probe:
    """One request through a proxy: its decision headers and the calls it made upstream, in order."""

    headers: dict[str, str]
    upstream: list[dict[str, Any]]  # the fake's request records: model, is_triage, stream, body

    @property
    def escalated(self) -> bool:
        return self.headers.get("x-tiered-escalated") == "true"

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.upstream]


def probe(proxy_url: str, fake_url: str, request: dict[str, Any], path: str = "/v1/messages") -> Probe:
    """Send ``request`` through the proxy once and read back, from the fake's log, what reached it."""
    _http_json("POST", fake_url + "/_fake/reset", {})
    _, headers = _http_json("POST", proxy_url + path, request, API_HEADERS)
    records, _ = _http_json("GET", fake_url + "/_fake/requests")
    upstream = [r for r in records if r.get("path") == "/v1/messages"]
    return Probe(headers, upstream)


def decisions_count(home: Path) -> int:
    """Rows in the decision store under ``home`` (read-only; the proxy may be writing)."""
    path = home / "tiered.db"
    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        row = connection.execute("SELECT count(*) FROM decisions").fetchone()
        return int(row[0])
    finally:
        connection.close()


def route_costs(home: Path) -> dict[str, tuple[int, float]]:
    """Per route: decisions and their summed cost in USD, from the store under ``home``."""
    path = home / "tiered.db"
    if not path.exists():
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = connection.execute("SELECT route, count(*), coalesce(sum(cost_usd), 0) FROM decisions GROUP BY route")
        return {str(route): (int(n), float(cost)) for route, n, cost in rows}
    finally:
        connection.close()


def spool_files(home: Path) -> int:
    """Files left in the decision spool (records that never reached the database)."""
    spool = home / "spool"
    if not spool.exists():
        return 0
    return sum(1 for p in spool.rglob("*") if p.is_file() and p.stat().st_size > 0)
