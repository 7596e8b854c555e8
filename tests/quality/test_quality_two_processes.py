"""Two replicas (processes) on one PostgreSQL share the threshold controller's state.

Both see the same evidence at the same moment and raise the threshold once, not twice; both apply every
change, and a process started later (a restart) resumes from the recorded threshold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.quality._quality_helpers import shipped, store, wait_for

from tiered.config import load_settings
from tiered.quality.thresholds import ThresholdSync, history
from tiered.router import Router
from tiered.store.engine import make_engine
from tiered.store.grades import record_grade
from tiered.store.migrate import upgrade

HERE = Path(__file__).parent


def graded(engine: object, prefix: str, n: int, wrong: int, threshold: float) -> None:
    store(engine, *(shipped(f"{prefix}{i}", threshold=threshold) for i in range(n)))  # type: ignore[arg-type]
    for i in range(n):
        record_grade(engine, f"{prefix}{i}", "incorrect" if i < wrong else "correct", "judge")  # type: ignore[arg-type]


def read(child: subprocess.Popen[str], out: list[str]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        out.append(line.strip())


@pytest.mark.postgres
def test_two_processes_share_the_controller_state(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    graded(engine, "a", 20, 5, 0.8)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    start_at = time.time() + 2.0
    children = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_quality_child.py"), pg_url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    lines: list[list[str]] = [[], []]
    readers = [
        threading.Thread(target=read, args=(c, out), daemon=True) for c, out in zip(children, lines, strict=True)
    ]
    for reader in readers:
        reader.start()
    try:
        both = lambda: all("threshold 0.85" in out for out in lines)  # noqa: E731
        wait_for(both, timeout=30, what="both replicas applying the first raise")
        assert len(history(engine, "default")) == 1  # seen together, raised once
        graded(engine, "b", 12, 2, 0.85)  # answers shipped under the raised threshold are wrong too
        for child in children:
            child.wait(timeout=60)
        for reader in readers:
            reader.join(5)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    errors = [c.stderr.read() if c.stderr else "" for c in children]
    assert [c.returncode for c in children] == [0, 0], errors
    changes = history(engine, "default")
    assert [(c.old_threshold, c.new_threshold) for c in reversed(changes)] == [(0.8, 0.85), (0.85, 0.9)]
    recorded = 0
    for out in lines:
        assert [line for line in out if line.startswith("threshold")] == ["threshold 0.85", "threshold 0.9"], out
        recorded += int(out[-1].split()[1])
    assert recorded == 2  # one change per step, whichever replica recorded it

    settings = load_settings(environ={}, overrides={"database_url": pg_url})
    router = Router(settings)
    ThresholdSync(settings, router, engine).poll()  # a replica (re)started later
    assert router.route_settings("default").threshold == 0.9
    engine.dispose()
