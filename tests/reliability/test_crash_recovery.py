"""``tiered serve`` killed under load, then restarted on the same TIERED_HOME: what the decision log keeps.

The promise (:mod:`tiered.store.writer`): a decision is *acknowledged* once committed or appended to the spool,
and every acknowledged decision survives ``kill -9`` (the spool is replayed by the next writer). Decisions
still in the writer's in-memory queue at the kill, or in the one batch being inserted, may be lost: at most
``queue_size + batch_size``. A graceful stop (SIGTERM) drains the queue, so it loses nothing.

Each test runs the proxy as a subprocess with a SQLite store in a temp TIERED_HOME, in front of the fake
upstream (a thread of the test process), drives it with concurrent clients, stops it, restarts it, and
compares the decision ids the clients received with the rows in the database.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from _rel_helpers import HEADERS, ask, free_port, start_proxy, stop, wait_healthy

from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.store.writer import WriterConfig

pytestmark = pytest.mark.slow

WORKERS = 12
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


def stored_ids(home: Path) -> set[str]:
    with sqlite3.connect(home / "tiered.db") as db:
        return {row[0] for row in db.execute("SELECT id FROM decisions")}


def spool_segments(home: Path) -> list[Path]:
    return sorted((home / "spool").glob("*/*.jsonl"))


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    # a little latency, so that requests overlap and the writer has company
    with FakeUpstream(Scenario(ttft_ms=5, tokens_per_s=2000)) as upstream:
        yield upstream


def run_and_stop(fake: FakeUpstream, home: Path, log: Path, sig: int) -> tuple[list[str], int]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_proxy(home, fake.url, port, log)
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


def restart_and_check(fake: FakeUpstream, home: Path, log: Path) -> str:
    """Restart on the same home, serve one request, stop gracefully: returns that request's decision id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_proxy(home, fake.url, port, log)
    try:
        wait_healthy(url, process)
        response = httpx2.post(url + "/v1/messages", json=ask("after the restart"), headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        decision_id = response.headers["x-tiered-decision-id"]
    finally:
        assert stop(process, signal.SIGTERM) in GRACEFUL, f"the restarted proxy did not stop cleanly; see {log}"
    return decision_id


def test_kill_9_under_load_loses_at_most_the_documented_window(
    fake: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, log = tmp_path / "home", tmp_path / "serve.log"
    completed, returncode = run_and_stop(fake, home, log, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    after_restart = restart_and_check(fake, home, log)

    stored = stored_ids(home)
    assert after_restart in stored
    assert len(set(completed)) == len(completed)
    missing = [d for d in completed if d not in stored]
    window = WriterConfig().queue_size + WriterConfig().batch_size
    with capsys.disabled():  # a figure for the reader of the run, not a failure: the bound is asserted below
        print(
            f"\nkill -9 under load: {len(completed)} responses completed; {len(missing)} of their decisions were "
            f"still queued in the killed process (expected: at most {window}, see docs/reliability.md)"
        )
    assert len(missing) <= window
    # the writer is FIFO: what it lost is the tail it had not reached, never a gap in the middle
    if missing:
        first_missing = completed.index(missing[0])
        assert len(completed) - first_missing <= window
    assert spool_segments(home) == [], "the restart left spooled decisions unreplayed"


def test_sigterm_under_load_loses_nothing(fake: FakeUpstream, tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "serve.log"
    completed, returncode = run_and_stop(fake, home, log, signal.SIGTERM)
    assert returncode in GRACEFUL, f"tiered serve did not stop cleanly; see {log}"
    assert b"Application shutdown complete" in log.read_bytes()
    stored = stored_ids(home)
    missing = [d for d in completed if d not in stored]
    assert not missing, f"{len(missing)} of {len(completed)} decisions lost on a graceful stop"
    after_restart = restart_and_check(fake, home, log)
    assert after_restart in stored_ids(home)
