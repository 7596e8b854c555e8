from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.store._store_helpers import make_decision

from tiered.store.privacy import Content
from tiered.store.records import Record, decode_record, encode_record, to_record
from tiered.store.spool import Spool


def record(ident: str) -> Record:
    return to_record(make_decision(ident, "escalated"), Content("q", "a"), timedelta(days=1))


def test_records_round_trip_through_a_spool_line() -> None:
    original = record("r1")
    line = encode_record(original)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode_record(line)
    assert back == original


@pytest.mark.parametrize("line", [b"{}", b"[1]", b'{"v": 99, "decision": {"id": "x"}, "attempts": []}', b"\xff"])
def test_foreign_lines_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match="not a tiered spool record"):
        decode_record(line)


def test_a_live_writers_segment_is_not_replayed_until_it_lets_go(tmp_path: Path) -> None:
    owner = Spool(tmp_path)
    other = Spool(tmp_path)  # another process, as far as flock is concerned: a separate open file
    owner.append([encode_record(record("a")), encode_record(record("b"))], sync=True)
    got: list[str] = []
    result = other.replay(lambda rs: got.extend(r.id for r in rs))
    assert (result.records, result.files, got) == (0, 0, [])
    assert len(owner.segments()) == 1

    owner.close()
    result = other.replay(lambda rs: got.extend(r.id for r in rs))
    assert (result.records, result.files, got) == (2, 1, ["a", "b"])
    assert owner.segments() == []


def test_a_failed_replay_keeps_the_segment_for_next_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([encode_record(record(f"r{i}")) for i in range(5)], sync=False)

    def refuse(_records: list[Record]) -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        spool.replay(refuse, chunk=2)
    assert len(spool.segments()) == 1
    got: list[str] = []
    assert spool.replay(lambda rs: got.extend(r.id for r in rs), chunk=2).records == 5
    assert got == [f"r{i}" for i in range(5)]


def test_a_torn_last_line_is_moved_aside_not_lost_silently(tmp_path: Path) -> None:
    line = encode_record(record("whole"))
    (tmp_path / "00000000000000000001-1-dead.jsonl").write_bytes(line + line[: len(line) // 2])
    got: list[str] = []
    result = Spool(tmp_path).replay(lambda rs: got.extend(r.id for r in rs))
    assert (result.records, result.corrupt, got) == (1, 1, ["whole"])
    rejected = list((tmp_path / "rejected").glob("*.jsonl"))
    assert len(rejected) == 1
    assert rejected[0].read_bytes() == line[: len(line) // 2] + b"\n"


def test_segments_rotate_and_are_private(tmp_path: Path) -> None:
    size = len(encode_record(record("r0")))
    spool = Spool(tmp_path, segment_bytes=3 * size + 1)  # four records per segment: 4 + 4 + 2 (active)
    for i in range(10):
        spool.append([encode_record(record(f"r{i}"))], sync=False)
    spool.sync()
    segments = spool.segments()
    assert len(segments) == 3
    assert all(p.stat().st_mode & 0o077 == 0 for p in segments)
    got: list[str] = []
    Spool(tmp_path).replay(lambda rs: got.extend(r.id for r in rs))
    # Sealed segments are anyone's; the active one is still held by `spool`.
    assert got == [f"r{i}" for i in range(len(got))]
    assert len(got) == 8
    spool.close()
    Spool(tmp_path).replay(lambda rs: got.extend(r.id for r in rs))
    assert got == [f"r{i}" for i in range(10)]
