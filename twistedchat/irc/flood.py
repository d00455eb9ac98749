"""Flood control: a token bucket that says how long a client's next line must wait.

Like the "fakelag" of common IRC servers: a client may send ``burst`` lines at once, then
``rate`` lines per second; beyond that its lines are delayed, not dropped. The connection
decides when a backlog is big enough to disconnect ("Excess Flood").
"""

from __future__ import annotations


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
