"""A counter's rate over the last minutes, for the dashboard's chart.

Prometheus keeps history itself; a browser looking at one node has nothing but what the
node tells it. So the node samples one of its counters (messages applied) every ``step``
seconds and keeps the last ``size`` differences: a bounded ring, a few kilobytes, and one
call every ``step`` seconds whatever the traffic. Nothing on the message path reads the
clock for it: the hub only increments the counter.

:class:`RateRing` is pure (the caller passes the time and the counter's total);
:class:`RateSampler` drives it with a ``LoopingCall`` on the node's clock, so tests use
``twisted.internet.task.Clock``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

#: Seconds per sample, and samples kept: 10 minutes at the dashboard's polling pace.
STEP = 2.0
SIZE = 300


class RateRing:
    """Per-``step`` increments of a monotonic counter, the newest last, ``size`` at most."""

    def __init__(self, step: float = STEP, size: int = SIZE) -> None:
        if step <= 0 or size <= 0:
            raise ValueError("step and size must be positive")
        self.step = step
        self._counts: deque[int] = deque(maxlen=size)
        self._last_total: int | None = None
        self._last_time: float | None = None

    def record(self, now: float, total: int) -> None:
        """The counter reads ``total`` at ``now``: one more sample (the first only sets
        the baseline). A counter that went down (a restart, say) counts from zero again,
        as Prometheus's ``rate`` does."""
        if self._last_total is not None:
            self._counts.append(total - self._last_total if total >= self._last_total else total)
        self._last_total, self._last_time = total, now

    def per_second(self) -> list[float]:
        """Each sample's rate, oldest first."""
        return [round(count / self.step, 3) for count in self._counts]

    def document(self) -> dict[str, Any]:
        """For ``/status``: the rates and the time of the newest, so the chart has an axis."""
        return {
            "step_seconds": self.step,
            "end": self._last_time,
            "per_second": self.per_second(),
        }


class RateSampler:
    """Reads ``read()`` into a :class:`RateRing` every ``ring.step`` seconds of ``clock``."""

    def __init__(self, ring: RateRing, read: Callable[[], int], clock: IReactorTime) -> None:
        self.ring = ring
        self._read = read
        self._clock = clock
        self._call = LoopingCall(self._sample)
        self._call.clock = clock

    def start(self) -> None:
        self._call.start(self.ring.step, now=True)

    def stop(self) -> None:
        if self._call.running:
            self._call.stop()

    def _sample(self) -> None:
        self.ring.record(self._clock.seconds(), self._read())
