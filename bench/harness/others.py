"""Benchmarks owned by other parts of tiered, run as they are and reported with their commands and output."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["OTHER_BENCHES", "machine", "run_others", "source_state", "speed_probe"]

REPO = Path(__file__).resolve().parents[2]

OTHER_BENCHES: dict[str, tuple[str, str]] = {
    "store": ("Decision store throughput", "bench/store_bench.py"),
    "backtest": ("Backtest", "bench/backtest_bench.py"),
    "soak": ("Soak: 200 requests/s for 60 s, 10% of upstream calls failing", "bench/soak.py"),
    # CPU time per request moves with the machine's speed from run to run; instructions per request do not
    "instructions": (
        "Instructions per request (callgrind: independent of the machine's speed)",
        "bench/instructions.py",
    ),
}


def run_others(timeout_s: float = 600.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (title, script) in OTHER_BENCHES.items():
        command = [".venv/bin/python", script]
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, script], cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False
            )
            output, code = (done.stdout + done.stderr).strip(), done.returncode
        except subprocess.TimeoutExpired:
            output, code = f"(timed out after {timeout_s:.0f} s)", None
        out[key] = {
            "title": title,
            "command": " ".join(command),
            "exit_code": code,
            "seconds": time.monotonic() - t0,
            "output": output,
        }
    return out


def _reference_loop() -> int:
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    return total


def speed_probe(repeats: int = 7) -> dict[str, float]:
    """CPU seconds of a fixed pure-Python loop, timed ``repeats`` times (lower is faster): how fast this
    virtual machine ran at that moment, so that runs made at different times can be compared."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        _reference_loop()
        times.append(time.process_time() - start)
    times.sort()
    return {"min_s": times[0], "median_s": times[len(times) // 2], "max_s": times[-1]}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _node() -> str | None:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip()
    except OSError:
        return None


def source_state() -> str:
    """The commit measured, and whether ``src/`` had uncommitted changes (git is only read)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        return "unknown"
    changed = len(dirty.splitlines())
    return f"{head or 'unknown'}" + (f" with {changed} uncommitted file(s) in src/" if changed else "")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import httpx2
    import starlette
    import uvicorn

    try:
        import uvloop

        loop = f"uvloop {getattr(uvloop, '__version__', '?')}"
    except ImportError:
        loop = "asyncio"
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": _load(),
        "node": _node(),
        "libraries": (
            f"uvicorn {uvicorn.__version__}, starlette {starlette.__version__}, httpx2 {httpx2.__version__}, {loop}"
        ),
    }
