"""Python opcodes per request of the proxy, per function: where :mod:`bench.instructions`' counts come from.

    python bench/opcodes.py json-pass [--requests 60] [--src DIR] [--base DIR]

Callgrind (``bench/instructions.py``) counts the whole process's instructions but cannot say which Python
function spent them. This runs ``tiered serve`` with a tracer that counts, per function, the bytecodes the
event loop's thread executes for the measured requests (warm-up excluded): a deterministic count (the same
inputs give the same numbers, whatever else the machine runs), about a hundred times slower than normal. Work
done in C (orjson, httptools, SQLite) and on other threads (the decision writer) is not counted; compare with
``bench/instructions.py`` for the whole. With ``--base`` the same scenario runs on a second checkout's ``src``
and the functions that gained or lost the most opcodes are listed (an A/B after a change).
"""

from __future__ import annotations

import argparse
import marshal
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness.procs import LOOPBACK, free_port  # noqa: E402
from bench.harness.scenarios import body, overhead_scenarios  # noqa: E402
from bench.instructions import LOADS, send, wait_ready  # noqa: E402

# Run in the proxy's process: SIGUSR1 starts counting (on the thread that receives it: the event loop's),
# SIGUSR2 stops and writes (file, first line, function, opcodes) rows with marshal.
_LAUNCH = r"""
import collections, marshal, signal, sys
out = sys.argv.pop(1)
counts = collections.Counter()
def count(frame, event, arg):
    if event == "opcode":
        counts[frame.f_code] += 1
    return count
def enter(frame, event, arg):
    frame.f_trace_opcodes = True
    return count
def start(*_):
    counts.clear()
    sys.settrace(enter)
    frame = sys._getframe(1)
    while frame is not None:
        frame.f_trace, frame.f_trace_opcodes, frame = count, True, frame.f_back
def stop(*_):
    sys.settrace(None)
    with open(out, "wb") as f:
        marshal.dump([(c.co_filename, c.co_firstlineno, c.co_name, n) for c, n in counts.items()], f)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
from tiered.cli import main
sys.argv[0] = "tiered"
sys.exit(main())
"""

Counts = dict[str, float]


def measure(scenario: str, requests: int, src: Path | None) -> Counts:
    """Opcodes per request by ``module:function`` for ``requests`` requests of ``scenario``."""
    tiered = Path(sys.executable).with_name("tiered")
    with tempfile.TemporaryDirectory(prefix="tiered-opcodes-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERED_", "ANTHROPIC_", "OPENAI_"))}
        fake_port, proxy_port = free_port(), free_port()
        proxy_env = {**env, "ANTHROPIC_BASE_URL": f"http://{LOOPBACK}:{fake_port}", "TIERED_HOME": str(work / "home")}
        if src is not None:
            proxy_env["PYTHONPATH"] = str(src.resolve())
        out = work / "counts"
        with open(work / "proxy.log", "wb") as log:
            fake = subprocess.Popen(
                [str(tiered), "fake-upstream", "--host", LOOPBACK, "--port", str(fake_port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            serve = ["serve", "--host", LOOPBACK, "--port", str(proxy_port)]
            proxy = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(out), *serve],
                env=proxy_env,
                cwd=work / "home",
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_ready(fake_port, "/_fake/health", 60)
                wait_ready(proxy_port, "/readyz", 120)
                shape, stream = LOADS[scenario]
                request = body(overhead_scenarios()[shape], stream=stream)
                send(proxy_port, request, 20)  # warm-up
                time.sleep(0.5)
                proxy.send_signal(signal.SIGUSR1)
                time.sleep(0.5)
                sent = send(proxy_port, request, requests)
                time.sleep(0.5)
                proxy.send_signal(signal.SIGUSR2)
                for _ in range(100):
                    if out.exists() and out.stat().st_size:
                        break
                    time.sleep(0.1)
                time.sleep(0.5)
            finally:
                for process in (proxy, fake):
                    process.terminate()
                    process.wait(30)
            rows = marshal.loads(out.read_bytes())
    counts: Counts = {}
    for filename, _line, function, n in rows:
        # by module path (site-packages, the stdlib or a checkout's src), so two checkouts compare
        name = re.sub(r".*/(src|site-packages|lib/python3\.\d+)/", "", filename) + ":" + function
        counts[name] = counts.get(name, 0.0) + n / sent
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=list(LOADS))
    parser.add_argument("--requests", type=int, default=60, help="measured requests")
    parser.add_argument("--src", type=Path, help="run the proxy from this src directory instead")
    parser.add_argument("--base", type=Path, help="also run this src directory, and list the differences")
    parser.add_argument("--top", type=int, default=40, help="functions to list")
    args = parser.parse_args()
    now = measure(args.scenario, args.requests, args.src)
    if args.base is None:
        print(f"{sum(now.values()):.0f} opcodes/request on the event loop's thread")
        for name, n in sorted(now.items(), key=lambda item: -item[1])[: args.top]:
            print(f"{n:9.1f}  {name}")
        return
    base = measure(args.scenario, args.requests, args.base)
    print(f"{sum(base.values()):.0f} -> {sum(now.values()):.0f} opcodes/request on the event loop's thread")
    names = sorted(set(now) | set(base), key=lambda name: -abs(now.get(name, 0) - base.get(name, 0)))
    for name in names[: args.top]:
        before, after = base.get(name, 0.0), now.get(name, 0.0)
        print(f"{after - before:+9.1f}  {before:9.1f} -> {after:9.1f}  {name}")


if __name__ == "__main__":
    main()
