from __future__ import annotations

import random

from irqio.timing.cache import SetAssociativeCache


def test_hits_misses_and_lru_on_a_known_sequence() -> None:
    # 2 sets x 2 ways x 8-byte lines = 32 bytes. Lines 0, 2, 4 map to set 0; 1, 3 to set 1.
    c = SetAssociativeCache(32, 2, 8)
    seq = [0, 16, 0, 32, 16, 0, 8, 24, 8]  # byte addresses -> lines 0, 2, 0, 4, 2, 0, 1, 3, 1
    got = [c.access(a) for a in seq]
    # 0 miss, 2 miss, 0 hit, 4 miss (evicts LRU 2), 2 miss (evicts LRU 0), 0 miss (evicts 4),
    # 1 miss, 3 miss, 1 hit.
    assert got == [False, False, True, False, False, False, False, False, True]
    assert (c.hits, c.misses) == (2, 7)
    assert c.contains(0) and c.contains(16) and not c.contains(32)


def test_same_line_different_offsets_hit() -> None:
    c = SetAssociativeCache(16384, 2, 8)
    assert c.access(0x1000_0000) is False
    assert all(c.access(0x1000_0000 + i) for i in range(8))
    assert c.access(0x1000_0008) is False


def test_rp2040_geometry_holds_16k_of_straight_code() -> None:
    c = SetAssociativeCache(16384, 2, 8)
    for a in range(0, 16384, 8):
        c.access(a)
    assert all(c.access(a) for a in range(0, 16384, 8))
    c.access(16384)  # one more line evicts the LRU of set 0 only
    assert not c.contains(0) and c.contains(8)


def test_foreign_fills_evict_lazily() -> None:
    c = SetAssociativeCache(64, 2, 8, random.Random(1))
    c.access(0)
    c.pollute(0.0)
    assert c.contains(0)
    c.pollute(50.0)  # ~50 foreign fills per set: certainly at least two
    assert not c.contains(0)
    assert c.access(0) is False
