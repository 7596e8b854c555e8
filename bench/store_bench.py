"""Decision store throughput: how many decisions per second reach the database.

    python bench/store_bench.py [--count 20000] [--database-url URL] [--no-fsync] [--no-write-ahead]

Three measurements on a fresh database (a temporary SQLite file unless --database-url is given):

* ``insert``: records -> ``insert_records`` in batches of 500, one transaction each (the writer's inner loop);
* ``writer``: ``DecisionWriter.submit`` for every decision, then ``flush`` (queue big enough not to spill),
  with the CPU time ``submit`` takes on the caller's thread (the request path: the write-ahead log's cost);
* ``burst``: the same with the default 10,000-deep queue, so part of the burst spills to the spool and is
  replayed before ``close`` returns.

Decisions are built before the clock starts. Prints decisions/s for each.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    import tiered  # noqa: F401
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.records import insert_records, to_record
from tiered.store.writer import DecisionWriter, WriterConfig


def decisions(count: int, tag: str) -> list[Decision]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        triage = Attempt(
            0,
            "claude-haiku-4-5",
            AttemptRole.TRIAGE,
            Outcome.SHIPPED if i % 3 else Outcome.ESCALATED,
            confidence=(i % 100) / 100,
            reason=None if i % 3 else EscalationReason.LOW_CONFIDENCE,
            usage=TokenUsage(900, 120, 400),
            cost_usd=0.0012,
            latency_ms=350.0,
            first_token_ms=120.0,
            status=200,
            request_id=f"req_{i}",
        )
        attempts: tuple[Attempt, ...] = (triage,)
        if i % 3 == 0:
            attempts += (
                Attempt(
                    1,
                    "claude-opus-4-7",
                    AttemptRole.FINAL,
                    Outcome.ANSWERED,
                    usage=TokenUsage(900, 700),
                    cost_usd=0.07,
                    latency_ms=4200.0,
                    status=200,
                ),
            )
        escalated = i % 3 == 0
        out.append(
            Decision(
                id=f"{tag}-{i:08d}",
                route="default",
                created_at=now + timedelta(microseconds=i),
                attempts=attempts,
                answered_by="claude-opus-4-7" if escalated else "claude-haiku-4-5",
                answer_tier=1 if escalated else 0,
                escalated=escalated,
                reason=EscalationReason.LOW_CONFIDENCE if escalated else None,
                confidence=(i % 100) / 100,
                threshold=0.8,
                cost_usd=0.0712 if escalated else 0.0012,
                counterfactual_cost_usd=0.07,
                latency_ms=4550.0 if escalated else 350.0,
                stream=bool(i % 2),
                key_id="key_bench",
                request_hash=f"{i:064x}",
                request_chars=2400,
                answer_chars=800,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--database-url")
    parser.add_argument("--no-fsync", action="store_true", help="do not fsync spool appends")
    parser.add_argument("--no-write-ahead", action="store_true", help="queue decisions without logging them first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="tiered-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        n = args.count

        records = [to_record(d, None, timedelta(days=30)) for d in decisions(n, "insert")]
        start = time.perf_counter()
        for i in range(0, n, 500):
            with engine.begin() as conn:
                insert_records(conn, records[i : i + 500])
        report("insert", n, time.perf_counter() - start)

        batch = decisions(n, "writer")
        ahead = not args.no_write_ahead
        config = WriterConfig(
            spool_dir=Path(tmp) / "spool", queue_size=n + 1, fsync=not args.no_fsync, write_ahead=ahead
        )
        with DecisionWriter(engine, config) as writer:
            start, cpu = time.perf_counter(), time.thread_time()
            for d in batch:
                writer.submit(d)
            submitted, cpu = time.perf_counter() - start, time.thread_time() - cpu
            writer.flush(600)
            extra = f"submit alone: {n / submitted:,.0f}/s, {cpu / n * 1e6:.1f} us of CPU each on the caller's thread"
            report("writer", n, time.perf_counter() - start, extra)
        assert writer.stats().written == n, writer.stats()

        batch = decisions(n, "burst")
        config = WriterConfig(spool_dir=Path(tmp) / "spool", fsync=not args.no_fsync, write_ahead=ahead)
        writer = DecisionWriter(engine, config)
        writer.start()
        start = time.perf_counter()
        for d in batch:
            writer.submit(d)
        stats = writer.close(600)
        report("burst", n, time.perf_counter() - start, f"spooled and replayed: {stats.replayed:,}")
        assert stats.written + stats.replayed == n and stats.dropped == 0, stats
        engine.dispose()


def report(name: str, n: int, seconds: float, extra: str = "") -> None:
    line = f"{name:>7}: {n / seconds:>9,.0f} decisions/s  ({n:,} in {seconds:.2f} s)"
    print(f"{line}  {extra}" if extra else line, flush=True)


if __name__ == "__main__":
    main()
