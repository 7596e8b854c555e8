"""The orchestrator's side of the load generator: one long-lived child process, jobs in, results out, every
wait bounded."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from bench.harness.jobs import Job, TargetResult, job_to_json

__all__ = ["LoadGen", "LoadGenError"]

REPO = Path(__file__).resolve().parents[2]


class LoadGenError(RuntimeError):
    """The load generator failed a job, died, or took longer than the job allows."""


class LoadGen:
    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()

    def start(self) -> Self:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self._log_path, "ab")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.harness.loadgen"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        stdout = self._process.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                self._lines.put(line)
            self._lines.put(None)

        threading.Thread(target=pump, name="loadgen-reader", daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        if self._process is None:
            raise LoadGenError("the load generator is not running")
        return self._process.pid

    def run(self, job: Job, *, slack_s: float = 60.0) -> list[TargetResult]:
        """Run ``job``; raises :class:`LoadGenError` if it fails or overruns its expected time plus slack."""
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            raise LoadGenError("the load generator is not running")
        process.stdin.write(job_to_json(job).encode() + b"\n")
        process.stdin.flush()
        try:
            line = self._lines.get(timeout=expected_seconds(job) + slack_s)
        except queue.Empty:
            report = self._stuck_report(process)
            self._restart()
            raise LoadGenError(f"the load generator did not finish a {job.mode} job in time\n{report}") from None
        if line is None:
            self._restart()
            raise LoadGenError(f"the load generator exited; see {self._log_path}")
        reply = json.loads(line)
        if "error" in reply:
            raise LoadGenError(f"the load generator failed:\n{reply['error']}")
        return [TargetResult.from_json(r) for r in reply["results"]]

    def _stuck_report(self, process: subprocess.Popen[bytes]) -> str:
        """Ask the stuck process what it still waits for (it writes that to its log) and return the log's end."""
        with contextlib.suppress(OSError):
            process.send_signal(signal.SIGUSR1)
        time.sleep(2.0)
        if self._log is not None:
            self._log.flush()
        try:
            data = self._log_path.read_bytes()[-4000:]
        except OSError:
            return ""
        return data.decode(errors="replace")

    def _restart(self) -> None:
        """A fresh process for the next job (the old one is killed, whatever it was doing)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self.close()
        self._lines = queue.Queue()
        self.start()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def expected_seconds(job: Job) -> float:
    """How long ``job`` should take, not counting the slowest requests' tails."""
    n = len(job.targets)
    if job.mode == "hold":
        return job.timeout_s
    if job.interleave:
        return job.warmup_s + job.duration_s * n + 2 * job.timeout_s
    # a warm-up or a measured slice ends when its last request does: each may overrun by one request timeout
    per_slice = job.duration_s + job.warmup_s + 2 * job.timeout_s
    return per_slice * n * job.rounds
