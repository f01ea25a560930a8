"""A set-associative LRU instruction cache, with background traffic applied lazily.

Code whose timing matters (handlers, critical sections) is fetched line by line through `access`.
The background VM's own fetches are far too many to simulate one by one in Python (one simulated
RP2040 second would be ~30 M line fetches), so they enter as *foreign fills*: `pollute(mu)` says
"each set has received, on average, `mu` more fills of lines nobody else uses". A set draws its
Poisson number of foreign fills only when it is next looked at; since foreign lines are never
fetched again, only the count (capped at the number of ways) changes what that set holds.
"""

from __future__ import annotations

import math
import random


class SetAssociativeCache:
    def __init__(
        self, size_bytes: int, ways: int, line_bytes: int, rng: random.Random | None = None
    ):
        if size_bytes % (ways * line_bytes):
            raise ValueError("size must be a multiple of ways x line size")
        self.ways = ways
        self.line_bytes = line_bytes
        self.n_sets = size_bytes // (ways * line_bytes)
        # Each set lists line numbers, most recently used first: LRU is the last entry.
        self.sets: list[list[int]] = [[] for _ in range(self.n_sets)]
        self.rng = rng or random.Random(0)
        self.pollution = 0.0  # expected foreign fills per set since the start
        self._seen = [0.0] * self.n_sets  # pollution level already applied to each set
        self._foreign = -1  # foreign line numbers are negative, so never equal a real line
        self.hits = 0
        self.misses = 0

    def set_index(self, addr: int) -> int:
        return (addr // self.line_bytes) % self.n_sets

    def access(self, addr: int) -> bool:
        """Fetch the line holding `addr`; True on a hit. A miss fills the line, evicting the LRU."""
        line = addr // self.line_bytes
        index = line % self.n_sets
        self._catch_up(index)
        ways = self.sets[index]
        if line in ways:
            if ways[0] != line:
                ways.remove(line)
                ways.insert(0, line)
            self.hits += 1
            return True
        ways.insert(0, line)
        if len(ways) > self.ways:
            ways.pop()
        self.misses += 1
        return False

    def contains(self, addr: int) -> bool:
        index = self.set_index(addr)
        self._catch_up(index)
        return addr // self.line_bytes in self.sets[index]

    def pollute(self, fills_per_set: float) -> None:
        self.pollution += fills_per_set

    def _catch_up(self, index: int) -> None:
        mu = self.pollution - self._seen[index]
        if mu <= 0.0:
            return
        self._seen[index] = self.pollution
        # Poisson(mu) by inversion, capped at `ways`: more fills than ways empty the set anyway.
        u = self.rng.random()
        p = math.exp(-mu)
        cumulative = p
        n = 0
        while u > cumulative and n < self.ways:
            n += 1
            p *= mu / n
            cumulative += p
        ways = self.sets[index]
        for _ in range(n):
            ways.insert(0, self._foreign)
            self._foreign -= 1
            if len(ways) > self.ways:
                ways.pop()
