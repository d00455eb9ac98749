"""Where chaos nodes live, and how a partition is made.

As root with iproute2, the whole run (nodes and clients) happens inside a network
namespace the run creates and removes: each node gets its own loopback address
(127.0.1.N), nodes dial each other from those addresses, and a partition is a set of
``tc`` u32 filters on that namespace's ``lo`` steering packets between two addresses into
a class whose queue holds nothing (``pfifo limit 0``), so they are dropped. (A plain
``action drop`` needs a kernel module the test machines may lack.)
Nothing outside the namespace is touched. Otherwise nodes share 127.0.0.1 with their own
ports, and partitions are not available (the nemesis uses the other faults).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator


def namespaces_available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("tc") is not None


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def namespace(name: str) -> Iterator[str]:
    """A fresh network namespace with ``lo`` up and a filter-ready qdisc; removed after."""
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "-n", name, "link", "set", "lo", "up")
        tc = ("ip", "netns", "exec", name, "tc")
        _run(*tc, "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1")
        for klass in ("1:1", "1:2"):  # 1:1 passes everything, 1:2 drops everything
            _run(*tc, "class", "add", "dev", "lo", "parent", "1:", "classid", klass, "htb",
                 "rate", "10gbit", "quantum", "60000")  # fmt: skip
        _run(*tc, "qdisc", "add", "dev", "lo", "parent", "1:2", "handle", "20:", "pfifo",
             "limit", "0")  # fmt: skip
        yield name
    finally:
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                              timeout=10).stdout.split()  # fmt: skip
        for pid in pids:  # whatever the run left behind dies with its namespace
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


class Network:
    """Addresses for nodes, and partitions where the run owns a namespace."""

    def __init__(self, partitions: bool) -> None:
        self.partitions = partitions
        self._cut = False

    def host(self, index: int) -> str:
        return f"127.0.1.{index + 1}" if self.partitions else "127.0.0.1"

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Only hosts in the same group can talk (both directions cut between groups)."""
        sides = [list(group) for group in groups]
        self.heal()
        for i, side in enumerate(sides):
            for other in sides[i + 1 :]:
                for a in side:
                    for b in other:
                        self._drop(a, b)
                        self._drop(b, a)
        self._cut = True

    def cut_links(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Cut exactly these links (both directions): rings and bridges."""
        self.heal()
        for a, b in pairs:
            self._drop(a, b)
            self._drop(b, a)
        self._cut = True

    def heal(self) -> None:
        if self._cut:
            subprocess.run(["tc", "filter", "del", "dev", "lo", "parent", "1:"],
                           capture_output=True, timeout=10)  # fmt: skip
            self._cut = False

    def _drop(self, source: str, destination: str) -> None:
        _run("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1",
             "u32", "match", "ip", "src", f"{source}/32", "match", "ip", "dst",
             f"{destination}/32", "classid", "1:2")  # fmt: skip
