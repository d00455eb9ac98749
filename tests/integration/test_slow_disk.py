"""A slow disk on the leader or on one follower: lines still commit at once on the two
other disks, nobody's PING waits for an fsync, and nobody calls an election.

Every node runs with a small LD_PRELOAD shim (``slowfsync.c``, compiled here) that makes
each fsync and fdatasync sleep first, but only while that node's gate file exists: the
cluster forms at full speed, then one node's disk turns slow (400 ms an fsync on the
leader, 1 s on a follower) while clients chat. SQLite calls libc's ``fdatasync``, so the
node's Raft writes really wait that long.

Before decision 0022 every write was an fsync on the reactor thread and the leader
replicated only after its own: a line waited for the slow disk (twice), and PINGs,
heartbeats and every other client of the slow node waited with it. Now the writes run on
a thread, the leader's AppendEntries leave before its own write is durable, and it counts
itself only once it is (dissertation 10.2.1), so two fast followers commit without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, make_cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIM_SOURCE = Path(__file__).with_name("slowfsync.c")
CHANNEL = "#slowdisk"
LINES = 12  # lines sent one at a time, each waited for
PACE = 0.25  # seconds between them: the slow disk stays busy for several election timeouts

#: One WAL commit with ``synchronous = FULL``, as the Raft store does; prints its seconds.
SQLITE_COMMIT = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = FULL")
db.execute("CREATE TABLE t (x)")
start = time.monotonic()
db.execute("INSERT INTO t VALUES (1)")
print(time.monotonic() - start)
"""


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    """The shim, built for this test, once shown to slow a SQLite commit down."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("needs a C compiler (cc) to build the fsync shim (.ci/run installs gcc)")
    built = tmp_path / "slowfsync.so"
    command = [cc, "-shared", "-fPIC", "-O2", "-o", str(built), str(SHIM_SOURCE), "-ldl"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    gate = tmp_path / "check.slow"
    gate.touch()
    env = {"LD_PRELOAD": str(built), "SLOW_FSYNC_MS": "200", "SLOW_FSYNC_GATE": str(gate)}
    check = subprocess.run(
        [sys.executable, "-c", SQLITE_COMMIT, str(tmp_path / "check.db")],
        env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    seconds = float(check.stdout)
    assert seconds >= 0.18, f"the shim did not slow a SQLite commit ({seconds:.3f} s)"
    return built


@dataclass
class SlowDisks:
    """A 3-node cluster whose nodes all preload the shim, each disk slow once its gate
    file exists."""

    nodes: list[Node]
    gates: dict[str, Path]  # node id -> gate file
    shim: Path

    def slow_down(self, node: Node) -> None:
        self.gates[node.node_id].touch()

    def views(self) -> dict[str, tuple[int, str | None] | None]:
        """Each node's (term, leader) from its /status (None: it did not answer)."""
        views: dict[str, tuple[int, str | None] | None] = {}
        for node in self.nodes:
            status = node.status()
            views[node.node_id] = None if status is None else (status["term"], status["leader"])
        return views

    def preloaded(self, node: Node) -> bool:
        assert node.process is not None
        return str(self.shim) in Path(f"/proc/{node.process.pid}/maps").read_text()


@pytest.fixture
def slow_disks(tmp_path: Path, shim: Path, request: pytest.FixtureRequest) -> Iterator[SlowDisks]:
    fsync_ms: int = request.param
    nodes = make_cluster(tmp_path, 3, ["--flood-rate", "0"])
    gates = {}
    for node in nodes:
        gates[node.node_id] = tmp_path / f"{node.data_dir.name}.slow"
        node.env = {"LD_PRELOAD": str(shim), "SLOW_FSYNC_MS": str(fsync_ms),
                    "SLOW_FSYNC_GATE": str(gates[node.node_id])}  # fmt: skip
        node.start()
    try:
        wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
        yield SlowDisks(nodes, gates, shim)
    finally:
        for gate in gates.values():  # fast again: the nodes stop without waiting on it
            gate.unlink(missing_ok=True)


def chat(sender: IRCClient, listener: IRCClient, tag: str) -> list[float]:
    """``LINES`` lines from ``sender`` to ``CHANNEL``, one every ``PACE`` seconds, each
    timed until ``listener`` has it; returns those seconds."""
    deliveries = []
    for n in range(LINES):
        start = time.monotonic()
        sender.send(f"PRIVMSG {CHANNEL} :{tag} {n}")
        listener.expect(f" PRIVMSG {CHANNEL} :{tag} {n}", timeout=15)
        deliveries.append(time.monotonic() - start)
        time.sleep(max(PACE - (time.monotonic() - start), 0))
    return deliveries


@contextlib.contextmanager
def pinging(client: IRCClient, every: float = 0.05, limit: int = 400) -> Iterator[list[float]]:
    """Inside, a thread PINGs with ``client`` every ``every`` seconds (``limit`` times at
    most), and keeps how long each PONG took in the list this yields."""
    rtts: list[float] = []
    errors: list[Exception] = []
    done = threading.Event()

    def run() -> None:
        try:
            for n in range(limit):
                if done.is_set():
                    return
                rtts.append(ping(client, f"probe-{n}"))
                done.wait(every)
        except Exception as exc:  # raised again in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="pinger", daemon=True)
    thread.start()
    try:
        yield rtts
    finally:
        done.set()
        thread.join(timeout=20)
    assert not thread.is_alive(), "the pinger did not stop"
    if errors:
        raise errors[0]


def ping(client: IRCClient, token: str) -> float:
    start = time.monotonic()
    client.send(f"PING :{token}")
    line = client.expect(" PONG ", timeout=15)
    assert line.endswith(f":{token}") or line.endswith(f" {token}"), line
    return time.monotonic() - start


def figures(what: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return (
        f"{what}: p50 {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, "
        f"max {ms[-1]:.1f} ms ({len(ms)})"
    )


def joined(port: int, nick: str) -> IRCClient:
    client = IRCClient(port, nick)
    client.send(f"JOIN {CHANNEL}")
    client.expect(" 366 ")
    return client


@pytest.mark.parametrize("slow_disks", [400], indirect=True, ids=["fsync-400ms"])
def test_a_leader_with_a_slow_disk_commits_on_its_followers_disks(
    slow_disks: SlowDisks,
) -> None:
    """Every fsync of the leader takes 400 ms: a line between two followers' clients
    commits on the followers' disks in milliseconds, and a client of the leader gets its
    PONG at once all along, while the leader's writes are always pending (a line every
    250 ms, an fsync 400 ms)."""
    nodes = slow_disks.nodes
    leader = leader_of(nodes)
    assert leader is not None
    first, second = (n for n in nodes if n is not leader)
    alice, bob = joined(first.irc_port, "alice"), joined(second.irc_port, "bob")
    pinger = IRCClient(leader.irc_port, "carol")
    before = slow_disks.views()
    assert slow_disks.preloaded(leader)
    slow_disks.slow_down(leader)

    with pinging(pinger) as pongs:
        deliveries = chat(alice, bob, "line")
    after = slow_disks.views()
    report = "\n".join(
        [
            figures("alice (follower) -> bob (follower), leader's fsync 400 ms", deliveries),
            figures("PONG from the slow leader", pongs),
            f"(term, leader) before: {before}",
            f"(term, leader) after:  {after}",
        ]
    )
    print(report)
    assert statistics.median(deliveries) < 0.150, report
    assert statistics.median(pongs) < 0.100 and max(pongs) < 0.300, report
    assert after == before and {v and v[1] for v in after.values()} == {leader.node_id}, report
    for client in (alice, bob, pinger):
        client.close()


@pytest.mark.parametrize("slow_disks", [1000], indirect=True, ids=["fsync-1s"])
def test_a_follower_with_a_slow_disk_holds_nobody_up_and_catches_up(
    slow_disks: SlowDisks,
) -> None:
    """Every fsync of one follower takes 1 s: the leader and the other follower go on
    committing at once, a client of the slow follower gets its PONG at once all along, it
    calls no election, and its own clients get every line."""
    nodes = slow_disks.nodes
    leader = leader_of(nodes)
    assert leader is not None
    slow, fast = (n for n in nodes if n is not leader)
    alice, bob = joined(fast.irc_port, "alice"), joined(leader.irc_port, "bob")
    dave = joined(slow.irc_port, "dave")  # read only at the end: the catch-up
    pinger = IRCClient(slow.irc_port, "carol")
    before = slow_disks.views()
    assert slow_disks.preloaded(slow)
    slow_disks.slow_down(slow)

    with pinging(pinger) as pongs:
        deliveries = chat(alice, bob, "line")
    report = "\n".join(
        [
            figures("alice (follower) -> bob (leader), a follower's fsync 1 s", deliveries),
            figures("PONG from the slow follower", pongs),
            f"(term, leader) before: {before}",
        ]
    )
    print(report)
    chatted = time.monotonic()
    for n in range(LINES):
        dave.expect(f" PRIVMSG {CHANNEL} :line {n}", timeout=30)
    commit = (leader.status() or {}).get("commit_index") or 0
    wait_for(lambda: ((slow.status() or {}).get("applied_index") or 0) >= commit, 30,
             "the slow follower to apply everything committed")  # fmt: skip
    after = slow_disks.views()
    caught_up = (
        f"the slow follower's client had every line, and the slow follower had applied "
        f"everything, {time.monotonic() - chatted:.3f} s after the chat\n"
        f"(term, leader) after:  {after}"
    )
    print(caught_up)
    report += "\n" + caught_up
    assert statistics.median(deliveries) < 0.150, report
    assert statistics.median(pongs) < 0.100 and max(pongs) < 0.750, report
    assert after == before and {v and v[1] for v in after.values()} == {leader.node_id}, report
    for client in (alice, bob, dave, pinger):
        client.close()
