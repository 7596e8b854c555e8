"""``bench/run.py --profile``: sample the proxy with py-spy while it serves load, and rank its hot spots.

py-spy is installed on first use into a throwaway virtualenv beside the peers (``~/.cache/tiered-bench/tools``),
never into tiered's environment. Only samples taken while a thread holds the GIL count (``--gil``), so a
thread that sleeps or waits on a lock is not mistaken for work (C code that releases the GIL, SQLite's for
one, is not seen either). For each load (shipped JSON, shipped streaming, pass-through JSON, escalated
streaming; concurrency 64, zero-latency fake) it writes the collapsed stacks and a summary of the functions with
the most samples on their own (self) and under them (inclusive) to ``bench/results/profile-<load>.txt``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.harness.driver import LoadGen
from bench.harness.jobs import Call, Job, Target
from bench.harness.peers import PeerSetupError, default_cache
from bench.harness.procs import Services
from bench.harness.scenarios import API_HEADERS, Shape, body, overhead_scenarios
from bench.harness.stack import fake_service, tiered_service

__all__ = ["hot_spots", "run_profile"]

REPO = Path(__file__).resolve().parents[2]
_LOADS: tuple[tuple[str, Shape, bool], ...] = (
    ("json-shipped", "shipped", False),
    ("stream-shipped", "shipped", True),
    ("json-passthrough", "passthrough", False),
    ("stream-escalated", "escalated", True),
)


def _py_spy(cache: Path) -> Path:
    tools = cache / "tools"
    exe = tools / "bin" / "py-spy"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
        done = subprocess.run([str(tools / "bin" / "pip"), "install", "-q", "py-spy"], check=False)
        if done.returncode != 0 or not exe.exists():
            raise PeerSetupError("py-spy could not be installed from PyPI")
    return exe


def _frame_name(frame: str) -> str:
    # py-spy's raw frames read "function (path/to/module.py:line)": keep function and file, drop the line
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def hot_spots(collapsed: str, top: int = 30) -> str:
    """A ranking of functions by self and inclusive samples, from py-spy's collapsed (``raw``) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if total == 0:
        return "no samples\n"
    lines = [f"{total} samples", "", "self %  function"]
    lines += [f"{100 * n / total:5.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["", "incl %  function"]
    lines += [f"{100 * n / total:5.1f}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def run_profile(args: argparse.Namespace) -> None:
    exe = _py_spy(args.cache_dir or default_cache())
    seconds = 6.0 if args.quick else 15.0
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiered-profile-") as tmp:
        work = Path(tmp)
        with Services() as services, LoadGen(work / "loadgen.log") as loadgen:
            fake = services.start(fake_service(work))
            tiered = services.start(tiered_service(fake.url, work / "home", work))
            scenarios = overhead_scenarios()
            for label, shape, stream in _LOADS:
                request = body(scenarios[shape], stream=stream)
                job = Job(
                    mode="closed",
                    targets=(
                        Target("tiered", (Call(tiered.url + "/v1/messages", request, dict(API_HEADERS), stream),)),
                    ),
                    concurrency=64,
                    warmup_s=1.0,
                    duration_s=seconds + 1.0,
                    watch={"tiered": tiered.pid},
                )
                raw = work / f"{label}.txt"
                runner = threading.Thread(target=loadgen.run, args=(job,), daemon=True)
                runner.start()
                time.sleep(1.5)  # past the warm-up
                subprocess.run(
                    [
                        str(exe),
                        "record",
                        "--pid",
                        str(tiered.pid),
                        "--duration",
                        str(int(seconds)),
                        "--rate",
                        "250",
                        "--format",
                        "raw",
                        "--output",
                        str(raw),
                        # only samples where a thread holds the GIL: CPU spent in Python, not threads asleep
                        "--gil",
                    ],
                    check=False,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=seconds + 60,
                )
                runner.join(seconds + 60)
                collapsed = raw.read_text() if raw.exists() else ""
                (out_dir / f"profile-{label}.collapsed").write_text(collapsed)
                report = hot_spots(collapsed)
                (out_dir / f"profile-{label}.txt").write_text(f"# {label}: concurrency 64, {seconds:.0f} s\n\n{report}")
                print(f"--- {label}\n{report}", file=sys.stderr)
