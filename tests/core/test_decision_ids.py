"""Decision ids: time-ordered, 64 random bits each, unique across the random pool's refills."""

from __future__ import annotations

import re

from tiered.runner.attempts import _RandomHex, new_decision_id


def test_ids_are_well_formed_and_unique_across_refills() -> None:
    ids = [new_decision_id() for _ in range(2000)]  # several 4 KiB draws of the pool
    assert all(re.fullmatch(r"dec_[0-9a-f]{12}[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=lambda i: i[4:16])  # ordered by their millisecond prefix


def test_the_pool_never_hands_out_the_same_digits_twice() -> None:
    pool = _RandomHex()
    taken = [pool.take(16) for _ in range(3 * _RandomHex._BLOCK * 2 // 16)]
    assert all(len(t) == 16 for t in taken)
    assert len(set(taken)) == len(taken)
    joined = "".join(taken)
    assert re.fullmatch(r"[0-9a-f]+", joined)
    assert len(set(joined)) == 16  # every hex digit shows up: the draws are random, not a constant
