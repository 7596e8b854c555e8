"""kill -9 under load: every decision the writer acknowledged (committed or spooled) survives it, and with the
write-ahead log every decision whose ``submit`` returned."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.store._store_helpers import HERE, PYTHON, child_env, count, stored_ids, wait_for

from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.writer import DecisionWriter, WriterConfig


def only_spooled(acked: dict[str, str], held: int) -> set[str]:
    """Decisions acknowledged to the spool that were submitted after the database went down for good."""
    return {i for i, w in acked.items() if w == "spool" and int(i[1:]) > held}


def test_sigkill_loses_nothing_that_was_acknowledged(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    spool = tmp_path / "spool"
    child = subprocess.Popen(
        [PYTHON, str(HERE / "_store_writer_child.py"), "crash", sqlite_url, str(spool)],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    acked: dict[str, str] = {}
    asked = False  # to hold the database down for good
    held: int | None = None  # decisions numbered above this were submitted after it went down for good
    late = 0  # of those, acknowledged to the spool
    try:
        assert child.stdout is not None
        for raw in child.stdout:
            kind, *rest = raw.decode().split()
            if kind == "held":
                held = int(rest[0])
                continue
            where, ident = rest
            acked[ident] = where
            if held is None:
                spooled = sum(1 for w in acked.values() if w == "spool")
                if len(acked) >= 4000 and spooled >= 500 and not asked:
                    os.kill(child.pid, signal.SIGUSR1)
                    asked = True
            elif where == "spool" and int(ident[1:]) > held:
                late += 1
                if late >= 300:
                    break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # Lines the child wrote before it died are still in the pipe; a torn last line was never an ack.
        for raw in child.stdout.read().splitlines(keepends=True):
            if raw.endswith(b"\n") and raw.startswith(b"ack "):
                _, where, ident = raw.decode().split()
                acked[ident] = where
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert {"db", "spool"} <= set(acked.values())
    assert held is not None, "the child never held the database down"
    last = only_spooled(acked, held)

    engine = make_engine(sqlite_url)
    try:
        before = stored_ids(engine)
        # The spool path is really under test: these were acknowledged while the database could not take them.
        assert last and not last & before, "decisions acknowledged with the database down are in it"
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


def test_sigkill_loses_nothing_that_was_submitted(db_url: str, tmp_path: Path) -> None:
    """With the write-ahead log, a decision is on disk once ``submit`` returns: ``kill -9`` of the writer's
    process, with decisions still queued, loses none; the next writer replays them, each stored once."""
    upgrade(db_url)
    spool = tmp_path / "spool"
    child = subprocess.Popen(
        [PYTHON, str(HERE / "_store_writer_child.py"), "ahead", db_url, str(spool)],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    submitted: list[str] = []
    try:
        assert child.stdout is not None
        for raw in child.stdout:
            submitted.append(raw.decode().split()[1])
            if len(submitted) >= 3000:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        submitted += [
            raw.decode().split()[1] for raw in child.stdout.read().splitlines(keepends=True) if raw.endswith(b"\n")
        ]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL

    engine = make_engine(db_url)
    try:
        # the log is really under test: the writer lingers, so some were still queued at the kill
        assert set(submitted) - stored_ids(engine), "every submitted decision was committed before the kill"
        with DecisionWriter(engine, WriterConfig(spool_dir=spool)) as writer:
            assert wait_for(lambda: writer.stats().replayed > 0, 10)
        after = stored_ids(engine)
        missing = set(submitted) - after
        assert not missing, f"{len(missing)} submitted decisions lost, e.g. {sorted(missing)[:5]}"
        assert count(engine) == len(after)  # logged and committed: stored once
        assert not list(spool.glob("*.jsonl")), "the write-ahead log was not retired after its replay"
    finally:
        engine.dispose()
