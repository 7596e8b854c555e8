"""kill -9 under load: every decision the writer acknowledged (committed or spooled) survives it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from _store_helpers import HERE, PYTHON, child_env, count, stored_ids, wait_for

from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.writer import DecisionWriter, WriterConfig


def test_sigkill_loses_nothing_that_was_acknowledged(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    spool = tmp_path / "spool"
    child = subprocess.Popen(
        [PYTHON, str(HERE / "_store_writer_child.py"), "crash", sqlite_url, str(spool)],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    acked: dict[str, str] = {}
    try:
        assert child.stdout is not None
        for raw in child.stdout:
            _, where, ident = raw.decode().split()
            acked[ident] = where
            spooled = sum(1 for w in acked.values() if w == "spool")
            if len(acked) >= 4000 and spooled >= 500:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # Lines the child wrote before it died are still in the pipe; a torn last line was never an ack.
        for raw in child.stdout.read().splitlines(keepends=True):
            if raw.endswith(b"\n"):
                _, where, ident = raw.decode().split()
                acked[ident] = where
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert {"db", "spool"} <= set(acked.values())

    engine = make_engine(sqlite_url)
    try:
        before = stored_ids(engine)
        assert {i for i, w in acked.items() if w == "spool"} - before, "some acknowledged decisions only in the spool"
        with DecisionWriter(engine, WriterConfig(spool_dir=spool)) as writer:
            assert wait_for(lambda: writer.stats().replayed > 0, 10)
        after = stored_ids(engine)
        missing = set(acked) - after
        assert not missing, f"{len(missing)} acknowledged decisions lost, e.g. {sorted(missing)[:5]}"
        assert writer.stats().dropped == 0
        assert count(engine) == len(after)
        assert not list(spool.glob("*.jsonl"))
    finally:
        engine.dispose()
