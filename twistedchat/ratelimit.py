"""Rate limits: a token bucket, and one bucket per key for whoever knocks.

The IRC connection uses a bucket for flood control, like the "fakelag" of common IRC
servers: a client may send ``burst`` lines at once, then ``rate`` lines per second, and
later lines wait. Per-address connection throttling and per-source discovery queries use
:class:`KeyedBuckets`, which forgets the least recently seen keys beyond a bound.
"""

from __future__ import annotations

from collections import OrderedDict


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; ``rate == 0`` disables the limit."""

    def __init__(self, burst: int, rate: float) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.burst = burst
        self.rate = rate
        self._tokens = float(burst)
        self._updated: float | None = None

    def take(self, now: float) -> float:
        """Spend one token if there is one and return 0, else return seconds to wait."""
        if self.rate == 0:
            return 0.0
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


class KeyedBuckets:
    """A :class:`TokenBucket` per key (an address), at most ``keys`` of them remembered."""

    def __init__(self, burst: int, rate: float, keys: int = 10_000) -> None:
        self.burst = burst
        self.rate = rate
        self.keys = keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Spend a token of ``key``'s bucket; False if it has none left."""
        bucket = self._buckets.pop(key, None) or TokenBucket(self.burst, self.rate)
        self._buckets[key] = bucket
        while len(self._buckets) > self.keys:
            self._buckets.popitem(last=False)
        return bucket.take(now) == 0

    def __len__(self) -> int:
        return len(self._buckets)
