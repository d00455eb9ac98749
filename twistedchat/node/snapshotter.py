"""Snapshots of the chat state serialised in a forked child, not on the reactor.

Serialising the chat state takes tens of milliseconds per megabyte, and the state holds
the history: done on the reactor thread, every ``--snapshot-every`` entries a node would
stop answering heartbeats and IRC for as long. A thread would not help (the JSON encoder
holds the GIL), so :class:`ForkSnapshotter` does what Redis does for BGSAVE: ``fork()``
gives a child an exact, copy-on-write image of the state at this moment; the child
serialises it into a pipe and exits, while the parent goes on applying entries. The
snapshot is of the applied index at the fork, which is all compaction needs.

The child does nothing but build the bytes, write them and ``os._exit``: no logging, no
sockets, no SQLite, none of the locks other threads may hold at the fork. Memory grows
by at most the pages both processes touch while the child runs (refcount updates make
that a good part of the state, for a moment).

:class:`InlineSnapshotter` builds in the caller's thread, for tests on a ``Clock``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

log = Logger()

Build = Callable[[], bytes]
Done = Callable[[bytes], None]
Failed = Callable[[str], None]

_READ_CHUNK = 1 << 20


class Snapshotter(Protocol):
    def take(self, build: Build, done: Done, failed: Failed) -> None:
        """Run ``build`` on the state as it is now; ``done(data)`` or ``failed(reason)``
        follows on the reactor thread, possibly before this returns."""


class InlineSnapshotter:
    """Builds at once, in the caller's thread."""

    def take(self, build: Build, done: Done, failed: Failed) -> None:
        try:
            data = build()
        except Exception as exc:  # a bug in the state's encoding: the caller stops
            failed(f"{type(exc).__name__}: {exc}")
            return
        done(data)


class ForkSnapshotter:
    """Builds in a forked child; see the module doc."""

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self._reactor = reactor

    def take(self, build: Build, done: Done, failed: Failed) -> None:
        try:
            read_end, write_end = os.pipe()
            pid = os.fork()
        except OSError as exc:  # no memory or processes left for a child: build here
            log.warn("cannot fork to build a snapshot ({error}); building it in-process",
                     error=exc)  # fmt: skip
            InlineSnapshotter().take(build, done, failed)
            return
        if pid == 0:
            _child(build, read_end, write_end)  # never returns
        os.close(write_end)
        reader = threading.Thread(
            target=self._collect, args=(pid, read_end, done, failed), name="snapshot-reader"
        )
        reader.daemon = True
        reader.start()

    def _collect(self, pid: int, read_end: int, done: Done, failed: Failed) -> None:
        """In a thread: read the child's bytes to the end, reap it, report."""
        chunks = []
        try:
            while chunk := os.read(read_end, _READ_CHUNK):
                chunks.append(chunk)
        finally:
            os.close(read_end)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            reason = f"the snapshot child process exited with status {code}"
            self._reactor.callFromThread(failed, reason)
        else:
            self._reactor.callFromThread(done, b"".join(chunks))


def _child(build: Build, read_end: int, write_end: int) -> None:
    """The forked child: build, write everything, exit (status 1 on any failure)."""
    code = 1
    try:
        os.close(read_end)
        view = memoryview(build())
        while view:
            view = view[os.write(write_end, view) :]
        code = 0
    finally:
        os._exit(code)
