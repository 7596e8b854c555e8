"""``tiered serve`` killed under load, then restarted on the same TIERED_HOME: what the decision log keeps.

The promise (:mod:`tiered.store.wal`): a decision is in the write-ahead log (one ``write(2)``, in the page
cache, which outlives the process) before its response's last byte is sent, and the next writer replays a
dead process's log. So ``kill -9`` loses no decision whose response a client received, and a graceful stop
(SIGTERM) loses nothing either.

Each test runs the proxy as a subprocess with a SQLite (or PostgreSQL) store and a temp TIERED_HOME, in front
of the fake upstream (a thread of the test process), drives it with concurrent clients, stops it, restarts
it, and compares the decision ids the clients received with the rows in the database.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from tests.reliability._rel_helpers import HEADERS, ask, free_port, start_proxy, stop, wait_healthy

from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.store.engine import make_engine

pytestmark = pytest.mark.slow

WORKERS = 8
TARGET = 300  # completed responses before the stop
LOAD_LIMIT_S = 20.0
GRACEFUL = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down cleanly


@dataclass
class Load:
    """Clients sending routed requests (some streamed) until told to stop; what completed, in order."""

    url: str
    completed: list[str] = field(default_factory=list)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, index: int) -> None:
        with httpx2.Client(timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                body = ask(f"question {index}-{n}: what is {n} + {index}?", stream=n % 4 == 0)
                try:
                    response = client.post(self.url + "/v1/messages", json=body, headers=HEADERS)
                    done = response.status_code == 200 and (
                        not body.get("stream") or b"message_stop" in response.content
                    )
                except httpx2.HTTPError:
                    done = False
                with self._lock:
                    if done:
                        self.completed.append(response.headers["x-tiered-decision-id"])
                    else:
                        self.failures += 1

    def run_until(self, target: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LOAD_LIMIT_S
        while len(self.completed) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        return threads

    def finish(self, threads: list[threading.Thread]) -> list[str]:
        self.stop.set()
        for thread in threads:
            thread.join(15)
        with self._lock:
            return list(self.completed)


def stored_ids(url: str) -> set[str]:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as db:
            return {row[0] for row in db.execute(sa.text("SELECT id FROM decisions"))}
    finally:
        engine.dispose()


def spool_segments(home: Path) -> list[Path]:
    """Spooled and write-ahead segments: none once a restarted proxy has replayed them and stopped."""
    return sorted((home / "spool").glob("*/*.jsonl"))


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    # a little latency, so that requests overlap and the writer has company
    with FakeUpstream(Scenario(ttft_ms=5, tokens_per_s=2000)) as upstream:
        yield upstream


def run_and_stop(fake: FakeUpstream, home: Path, db: str, log: Path, sig: int) -> tuple[list[str], int]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_proxy(home, fake.url, port, log, TIERED_DATABASE_URL=db)
    try:
        wait_healthy(url, process)
        load = Load(url)
        threads = load.run_until(TARGET)
        assert len(load.completed) >= TARGET // 4, f"only {len(load.completed)} responses; see {log}"
        returncode = stop(process, sig)
        # a graceful stop lets in-flight requests finish: they count as completed before the stop
        completed = load.finish(threads)
    finally:
        stop(process, signal.SIGKILL)
    return completed, returncode


def restart_and_check(fake: FakeUpstream, home: Path, db: str, log: Path) -> str:
    """Restart on the same home, serve one request, stop gracefully: returns that request's decision id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_proxy(home, fake.url, port, log, TIERED_DATABASE_URL=db)
    try:
        wait_healthy(url, process)
        response = httpx2.post(url + "/v1/messages", json=ask("after the restart"), headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        decision_id = response.headers["x-tiered-decision-id"]
    finally:
        assert stop(process, signal.SIGTERM) in GRACEFUL, f"the restarted proxy did not stop cleanly; see {log}"
    return decision_id


def test_kill_9_under_load_loses_no_answered_decision(
    fake: FakeUpstream, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, log = tmp_path / "home", tmp_path / "serve.log"
    completed, returncode = run_and_stop(fake, home, db_url, log, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    after_restart = restart_and_check(fake, home, db_url, log)

    stored = stored_ids(db_url)
    assert after_restart in stored
    assert len(set(completed)) == len(completed)
    missing = [d for d in completed if d not in stored]
    with capsys.disabled():  # a figure for the reader of the run
        print(f"\nkill -9 under load: {len(completed)} responses completed, {len(missing)} of their decisions lost")
    assert not missing, f"{len(missing)} of {len(completed)} answered decisions lost to kill -9; see {log}"
    assert spool_segments(home) == [], "the restart left spooled decisions unreplayed"


def test_sigterm_under_load_loses_nothing(fake: FakeUpstream, sqlite_url: str, tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "serve.log"
    completed, returncode = run_and_stop(fake, home, sqlite_url, log, signal.SIGTERM)
    assert returncode in GRACEFUL, f"tiered serve did not stop cleanly; see {log}"
    assert b"Application shutdown complete" in log.read_bytes()
    stored = stored_ids(sqlite_url)
    missing = [d for d in completed if d not in stored]
    assert not missing, f"{len(missing)} of {len(completed)} decisions lost on a graceful stop"
    assert spool_segments(home) == [], "a graceful stop left its write-ahead log behind"
    after_restart = restart_and_check(fake, home, sqlite_url, log)
    assert after_restart in stored_ids(sqlite_url)
