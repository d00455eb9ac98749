"""Where chaos nodes live, and how a partition is made.

Each node gets its own loopback address (127.0.1.N) and dials its peers from it, so a
link between two nodes is known by its two addresses. As root with iproute2, the whole
run (nodes and clients) happens inside a network namespace the run creates and removes,
and a partition is a set of ``tc`` u32 filters on that namespace's ``lo`` steering
packets between two addresses into a class whose queue holds nothing (``pfifo limit
0``), so they are dropped. (A plain ``action drop`` needs a kernel module the test
machines may lack.) Nothing outside the namespace is touched. Otherwise the run stays on
the host's loopback and every peer link goes through a proxy of the run
(:mod:`tests.chaos.proxy`), which holds the links a partition cuts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator

from tests.chaos.proxy import PeerProxy


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
    """Addresses for nodes (each its own loopback IP), and partitions between them.

    A partition is a set of cut links, both directions of each; subclasses say how a
    set of directed links is cut.
    """

    how = ""  # for the report

    def host(self, index: int) -> str:
        return f"127.0.1.{index + 1}"

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Only hosts in the same group can talk (both directions cut between groups)."""
        sides = [list(group) for group in groups]
        pairs = [(a, b) for i, side in enumerate(sides) for other in sides[i + 1 :]
                 for a in side for b in other]  # fmt: skip
        self.cut_links(pairs)

    def cut_links(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Cut exactly these links (both directions): rings and bridges."""
        self._cut({(a, b) for a, b in pairs} | {(b, a) for a, b in pairs})

    def heal(self) -> None:
        self._cut(set())

    def _cut(self, directed: set[tuple[str, str]]) -> None:
        raise NotImplementedError


class FilteredNetwork(Network):
    """Inside the run's own namespace: ``tc`` filters drop the packets of cut links."""

    how = "tc filters in a private network namespace"

    def __init__(self) -> None:
        self._filtered = False

    def _cut(self, directed: set[tuple[str, str]]) -> None:
        if self._filtered:
            subprocess.run(["tc", "filter", "del", "dev", "lo", "parent", "1:"],
                           capture_output=True, timeout=10)  # fmt: skip
            self._filtered = False
        for source, destination in sorted(directed):
            _run("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio",
                 "1", "u32", "match", "ip", "src", f"{source}/32", "match", "ip", "dst",
                 f"{destination}/32", "classid", "1:2")  # fmt: skip
            self._filtered = True


class ProxiedNetwork(Network):
    """On the host's loopback: peer links go through a :class:`PeerProxy`, which holds
    the cut ones. As with the filters, only traffic between two nodes is cut: clients
    reach every node, and discovery datagrams (to the broadcast address) go through."""

    how = "a peer-link proxy on the host loopback"

    def __init__(self, proxy: PeerProxy) -> None:
        self.proxy = proxy

    def _cut(self, directed: set[tuple[str, str]]) -> None:
        self.proxy.cut(directed)
