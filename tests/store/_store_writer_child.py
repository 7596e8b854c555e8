"""A writer process for the crash and multi-writer tests (run as a script, not collected by pytest).

_store_writer_child.py crash URL SPOOL_DIR            submit until killed, with the database flapping;
                                                print "ack <db|spool> <id>" once each is acknowledged;
                                                on SIGUSR1 hold the database down for good and print
                                                "held <n>": no decision numbered above n reaches it
_store_writer_child.py plain URL SPOOL_DIR PREFIX N   write N decisions of a known mix, then exit
_store_writer_child.py ahead URL SPOOL_DIR            submit until killed (the writer lingering, so that its
                                                queue is never empty); print "sub <id>" once submit returned
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tests.store._store_helpers import FaultSwitch, Kind, make_decision

from tiered.store.engine import make_engine
from tiered.store.writer import DecisionWriter, WriterConfig

_out = threading.Lock()


def acknowledge(ids: Sequence[str], where: str) -> None:
    text = "".join(f"ack {where} {i}\n" for i in ids)
    with _out:
        sys.stdout.write(text)
        sys.stdout.flush()


def crash(url: str, spool_dir: Path) -> None:
    engine = make_engine(url)
    fault = FaultSwitch(engine)
    writer = DecisionWriter(
        engine,
        WriterConfig(
            spool_dir=spool_dir,
            queue_size=2000,
            batch_size=200,
            retry_initial_s=0.02,
            retry_max_s=0.05,
            on_persisted=acknowledge,
        ),
    ).start()

    hold = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: hold.set())
    started = [0]  # the number of the submission under way (or next)

    def flap() -> None:
        while not hold.wait(0.05):
            fault.down = not fault.down
        fault.down = True
        # Submissions numbered above this one start after the database went down for good.
        with _out:
            sys.stdout.write(f"held {started[0]}\n")
            sys.stdout.flush()

    threading.Thread(target=flap, daemon=True).start()
    deadline = time.monotonic() + 60  # never outlive a parent that forgot to kill us
    i = 0
    while time.monotonic() < deadline:
        started[0] = i
        writer.submit(make_decision(f"c{i:07d}", "escalated" if i % 2 else "shipped"))
        i += 1
        if i % 100 == 0:
            time.sleep(0.01)


KINDS: tuple[Kind, ...] = ("shipped", "escalated", "passthrough", "failed")


def ahead(url: str, spool_dir: Path) -> None:
    writer = DecisionWriter(make_engine(url), WriterConfig(spool_dir=spool_dir, linger_s=0.5)).start()
    deadline = time.monotonic() + 60  # never outlive a parent that forgot to kill us
    i = 0
    while time.monotonic() < deadline:
        ident = f"w{i:07d}"
        writer.submit(make_decision(ident, "escalated" if i % 2 else "shipped"))
        sys.stdout.write(f"sub {ident}\n")
        sys.stdout.flush()
        i += 1


def plain(url: str, spool_dir: Path, prefix: str, n: int) -> None:
    engine = make_engine(url)
    with DecisionWriter(engine, WriterConfig(spool_dir=spool_dir, batch_size=100)) as writer:
        for i in range(n):
            kind: Kind = KINDS[i % 4]
            writer.submit(make_decision(f"{prefix}{i:06d}", kind, cost=0.0013 * (i % 7 + 1), counterfactual=0.0211))
    stats = writer.stats()
    print(f"written={stats.written} spooled={stats.spooled} dropped={stats.dropped}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    mode, url, spool = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if mode == "crash":
        crash(url, spool)
    elif mode == "ahead":
        ahead(url, spool)
    else:
        plain(url, spool, sys.argv[4], int(sys.argv[5]))
