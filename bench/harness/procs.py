"""Child processes on loopback: start, wait until ready, read their CPU time and memory, stop them for sure.

Every service runs in its own process group (``start_new_session``), so stopping it reaches whatever it
spawned; :class:`Services` stops them all in reverse order on exit, on an exception and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from bench.harness.nodelay import http_request

__all__ = [
    "ProcSample",
    "Service",
    "ServiceError",
    "Services",
    "free_port",
    "raise_fd_limit",
    "sample",
    "sample_many",
    "tree_pids",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service did not start, or died; the message carries the tail of its log."""


def free_port() -> int:
    """An unused TCP port on loopback (the kernel's pick; a tiny race with other programs is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file soft limit towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        fields = raw[raw.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and its live descendants (``children``: a map from one earlier scan of ``/proc``)."""
    if children is None:
        children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU seconds (user + system, all threads, plus reaped children) and resident memory of a process tree."""

    cpu_s: float
    rss_bytes: int
    processes: int


def _stat(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rfind(b")") + 2 :].split()
    # fields[11..14] are utime, stime, cutime, cstime (stat(5) fields 14-17); fields[21] is rss in pages
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks, int(fields[21]) * PAGE_SIZE


def sample(root: int, *, tree: bool = True, children: dict[int, list[int]] | None = None) -> ProcSample:
    """CPU time and RSS of ``root`` (and, with ``tree``, its descendants) from ``/proc``."""
    ticks = rss = count = 0
    for pid in tree_pids(root, children) if tree else [root]:
        try:
            t, r = _stat(pid)
        except (OSError, IndexError, ValueError):
            continue
        ticks, rss, count = ticks + t, rss + r, count + 1
    return ProcSample(ticks / CLOCK_TICKS, rss, count)


def sample_many(pids: dict[str, int]) -> dict[str, ProcSample]:
    """:func:`sample` of several process trees from one scan of ``/proc``."""
    children = _children_map()
    return {name: sample(pid, children=children) for name, pid in pids.items()}


@dataclass
class Service:
    """One child process: a command, where it listens, and how to tell it is ready."""

    name: str
    argv: Sequence[str]
    port: int
    ready_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    log_path: Path | None = None
    ready_timeout_s: float = 60.0
    ready_status: tuple[int, ...] = (200,)
    unset_prefixes: tuple[str, ...] = ()
    """Variables of the caller's environment the child must not see (it gets only ``env`` for those)."""
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServiceError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> Self:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(self.unset_prefixes or ("\0",))}
        env = {**inherited, **self.env}
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(self.argv),
            env=env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        url = self.url + self.ready_path
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with {self.process.returncode} while starting\n{self.log_tail()}"
                )
            try:
                status, _, _ = http_request("GET", url, timeout=2)
                if status in self.ready_status:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"{self.name} was not ready within {self.ready_timeout_s:.0f}s\n{self.log_tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 15.0, sig: int = signal.SIGINT) -> int | None:
        """Ask the process group to stop (``sig``), wait ``grace_s``, then kill it; returns the exit code."""
        process, self.process = self.process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                try:
                    process.wait(grace_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
            # anything the service left behind in its group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_tail(self, lines: int = 25) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Services:
    """Started services, stopped in reverse order when the ``with`` block ends, however it ends."""

    def __init__(self) -> None:
        self._started: list[Service] = []

    def start(self, service: Service) -> Service:
        self._started.append(service)
        return service.start()

    def stop(self, service: Service, grace_s: float = 15.0) -> int | None:
        if service in self._started:
            self._started.remove(service)
        return service.stop(grace_s)

    def stop_all(self) -> None:
        while self._started:
            self._started.pop().stop(grace_s=10.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
