"""A stand-in for the reactor's ``callFromThread``, for tests of code with a thread of its
own (the storage writer, the snapshot reader): it collects what the thread hands over,
and the test runs it on its own thread, as the reactor would."""

from __future__ import annotations

import queue
from collections.abc import Callable


class ThreadCalls:
    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]]] = (
            queue.SimpleQueue()
        )

    def callFromThread(self, f: Callable[..., object], *args: object, **kw: object) -> None:
        self.calls.put((f, args))

    def run(self, count: int = 1) -> None:
        """Run the next ``count`` calls, waiting for each (10 s at most)."""
        for _ in range(count):
            f, args = self.calls.get(timeout=10)
            f(*args)
