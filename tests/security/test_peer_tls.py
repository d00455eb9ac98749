"""Peer transports over loopback with mutual TLS: who may talk to whom, and who is admitted."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from tests.integration.harness import free_ports
from twistedchat.discovery.wire import Announcement
from twistedchat.raft.messages import RaftMessage, TimeoutNow
from twistedchat.raft.peer import PeerSettings
from twistedchat.raft.transport import PeerTransport
from twistedchat.security import pki
from twistedchat.security.admission import PeerAdmission
from twistedchat.security.peertls import PeerIdentityError, PeerTLS, probe

FAST = PeerSettings(
    backoff_initial=0.01, backoff_max=0.1, connect_timeout=2.0, hello_timeout=2.0, close_grace=0.5
)


def tls_for(ca_root: Path, node_id: str, certificate_for: str | None = None) -> PeerTLS:
    """TLS settings of ``node_id``, with a certificate of ``ca_root``'s CA for
    ``certificate_for`` (by default the node's own id)."""
    if not (ca_root / "ca" / "ca.key").exists():
        pki.init_ca(ca_root)
    name = (certificate_for or node_id).replace(":", "_")
    out = pki.issue_node(ca_root, certificate_for or node_id, ca_root / name, force=True)
    key, cert, ca = ((out / name).read_bytes() for name in ("node.key", "node.pem", "ca.pem"))
    return PeerTLS.from_pem(node_id, key, cert, ca)


class Node:
    def __init__(self, tls: PeerTLS, port: int) -> None:
        self.node_id = tls.node_id
        self.port = port
        self.tls = tls
        self.received: list[RaftMessage] = []
        self.transport = PeerTransport(
            self.node_id, "test", f"tcp:{port}:interface=127.0.0.1", reactor=reactor,
            rng=random.Random(3), settings=FAST, tls=tls,
        )  # fmt: skip
        self.transport.on_message = self.received.append

    def dial(self, other: Node, as_id: str | None = None) -> None:
        node_id = as_id or other.node_id
        self.transport.set_peer(node_id, f"tcp:127.0.0.1:{other.port}")

    def stats(self) -> dict[str, int]:
        return self.transport.stats()


class Logged:
    """Log lines emitted while the test runs."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, event: LogEvent) -> None:
        self.lines.append(formatEvent(event) or "")

    def having(self, *needles: str) -> list[str]:
        return [line for line in self.lines if all(n in line for n in needles)]


@asynccontextmanager
async def network() -> AsyncIterator[tuple[list[Node], Logged]]:
    nodes: list[Node] = []
    logged = Logged()
    globalLogPublisher.addObserver(logged)
    try:
        yield nodes, logged
    finally:
        globalLogPublisher.removeObserver(logged)
        for node in nodes:
            await node.transport.stop()
            assert node.transport.context.connections == set()


async def start(nodes: list[Node], tls: PeerTLS, port: int) -> Node:
    node = Node(tls, port)
    await node.transport.start()
    nodes.append(node)
    return node


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError("timed out waiting")
        await deferLater(reactor, 0.005)


def ping(src: str, dst: str, term: int) -> TimeoutNow:
    return TimeoutNow(src, dst, term)


@pytest_twisted.ensureDeferred
async def test_mutual_tls_links_carry_messages_both_ways(tmp_path: Path) -> None:
    pa, pb = free_ports(2)
    ida, idb = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"
    async with network() as (nodes, logged):
        a = await start(nodes, tls_for(tmp_path, ida), pa)
        b = await start(nodes, tls_for(tmp_path, idb), pb)
        a.dial(b)
        b.dial(a)
        for term in range(1, 51):
            a.transport.send(ping(ida, idb, term))
            b.transport.send(ping(idb, ida, term))
        await until(lambda: len(a.received) == len(b.received) == 50)
        assert [m.term for m in b.received] == list(range(1, 51))
        for node in (a, b):
            assert node.stats()["connects"] == 1 and node.stats()["rejected_hello"] == 0
        assert logged.having("mutual TLS")  # the listening line says so


@pytest_twisted.ensureDeferred
async def test_a_certificate_of_another_ca_gets_no_link_either_way(tmp_path: Path) -> None:
    pa, pb = free_ports(2)
    ida, idb = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"
    async with network() as (nodes, logged):
        a = await start(nodes, tls_for(tmp_path / "ours", ida), pa)
        b = await start(nodes, tls_for(tmp_path / "theirs", idb), pb)
        a.dial(b)
        b.dial(a)
        a.transport.send(ping(ida, idb, 1))
        b.transport.send(ping(idb, ida, 1))
        await until(lambda: a.stats()["rejected_hello"] >= 2 and b.stats()["rejected_hello"] >= 2)
        assert a.received == b.received == []
        assert a.stats()["connects"] == b.stats()["connects"] == 0
        assert logged.having("TLS handshake failed")
        assert logged.having(f"peer {idb}", "TLS link failed", "retrying")


@pytest_twisted.ensureDeferred
async def test_the_listener_checks_the_certificate_against_the_claimed_node_id(
    tmp_path: Path,
) -> None:
    pa, pb, px = free_ports(3)
    ida, idb, idx = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}", f"127.0.0.1:{px}"
    async with network() as (nodes, logged):
        # a's certificate is valid, from our CA, but for node x: a may not claim to be a.
        a = await start(nodes, tls_for(tmp_path, ida, certificate_for=idx), pa)
        b = await start(nodes, tls_for(tmp_path, idb), pb)
        a.dial(b)
        a.transport.send(ping(ida, idb, 1))
        await until(lambda: b.stats()["rejected_hello"] >= 2)
        assert b.received == []
        refusals = logged.having("closing peer connection", f"node '{ida}' is not who it claims")
        assert refusals and f"'{idx}'" in refusals[0]


@pytest_twisted.ensureDeferred
async def test_the_dialler_checks_the_node_id_it_dials(tmp_path: Path) -> None:
    pa, pb, px = free_ports(3)
    ida, idb, idx = f"127.0.0.1:{pa}", f"127.0.0.1:{pb}", f"127.0.0.1:{px}"
    async with network() as (nodes, logged):
        a = await start(nodes, tls_for(tmp_path, ida), pa)
        b = await start(nodes, tls_for(tmp_path, idb, certificate_for=idx), pb)
        a.dial(b)  # as idb, but b presents x's certificate
        a.transport.send(ping(ida, idb, 1))
        await until(lambda: bool(logged.having(f"peer {idb}", "TLS link failed")))
        assert b.received == [] and a.stats()["connects"] == 0
        assert b.stats()["frames_received"] == 0  # not even our Hello went out
        assert logged.having(f"peer {idb}", f"is not the one of node {idb}")


@pytest_twisted.ensureDeferred
async def test_probe_admits_only_the_right_node_of_our_ca(tmp_path: Path) -> None:
    pa, pb, pc, pd, closed = free_ports(5)
    ids = {p: f"127.0.0.1:{p}" for p in (pa, pb, pc, pd, closed)}
    async with network() as (nodes, _):
        a = await start(nodes, tls_for(tmp_path / "ours", ids[pa]), pa)
        await start(nodes, tls_for(tmp_path / "ours", ids[pb]), pb)
        await start(nodes, tls_for(tmp_path / "theirs", ids[pc]), pc)
        await start(nodes, tls_for(tmp_path / "ours", ids[pd], certificate_for=ids[pb]), pd)

        await probe(reactor, a.tls, ids[pb], timeout=2)
        failures: dict[int, Failure] = {}
        for port in (pc, pd, closed):
            try:
                await probe(reactor, a.tls, ids[port], timeout=2)
            except Exception:
                failures[port] = Failure()
        assert sorted(failures) == sorted([pc, pd, closed])
        assert "certificate verify failed" in failures[pc].getErrorMessage()
        assert failures[pd].check(PeerIdentityError)
        assert f"is not the one of node {ids[pd]}" in failures[pd].getErrorMessage()
        await deferLater(reactor, 0.05)  # the probed nodes see the probes close


# -- admission, with a fake probe and clock ---------------------------------------------------


def announcement(node_id: str) -> Announcement:
    return Announcement(
        cluster="c", node_id=node_id, peer=node_id, irc="127.0.0.1:6667",
        status="127.0.0.1:8667", role="joining", term=0, leader=None, clients=0,
        capacity=10, has_state=False, voter=False, settings="",
    )  # fmt: skip


class Gate:
    def __init__(self, members: set[str] | None = None) -> None:
        self.clock = Clock()
        self.delivered: list[str] = []
        self.probes: list[tuple[str, Deferred[None]]] = []
        self.members = members or set()
        self.admission = PeerAdmission(
            lambda a: self.delivered.append(a.node_id), self.probe, self.members.__contains__,
            self.clock, ttl=60, retry=5,
        )  # fmt: skip

    def probe(self, node_id: str) -> Deferred[None]:
        attempt: Deferred[None] = Deferred()
        self.probes.append((node_id, attempt))
        return attempt

    def heard(self, node_id: str) -> None:
        self.admission.heard(announcement(node_id))


def test_members_pass_and_others_wait_for_a_successful_probe() -> None:
    gate = Gate(members={"m:1"})
    gate.heard("m:1")
    assert gate.delivered == ["m:1"] and gate.probes == []
    gate.heard("n:1")
    gate.heard("n:1")  # one probe at a time
    assert gate.delivered == ["m:1"] and [p[0] for p in gate.probes] == ["n:1"]
    gate.probes[0][1].callback(None)  # proved: the held announcement goes through at once
    assert gate.delivered == ["m:1", "n:1"]
    gate.heard("n:1")
    assert gate.delivered[-1] == "n:1" and len(gate.probes) == 1
    gate.clock.advance(61)  # admission expires: probe again
    gate.heard("n:1")
    assert len(gate.probes) == 2 and gate.delivered.count("n:1") == 2


def test_a_refused_node_is_retried_later_and_logged_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged = Logged()
    globalLogPublisher.addObserver(logged)
    try:
        gate = Gate()
        gate.heard("n:1")
        gate.probes[0][1].errback(Failure(PeerIdentityError("certificate of 'x:1' is not n:1")))
        gate.heard("n:1")
        assert len(gate.probes) == 1 and gate.delivered == []  # not before the retry delay
        gate.clock.advance(5)
        gate.heard("n:1")
        assert len(gate.probes) == 2
        gate.probes[1][1].errback(Failure(ConnectionError("refused")))
        assert len(logged.having("not admitting node n:1")) == 1
        gate.clock.advance(5)
        gate.heard("n:1")
        gate.probes[2][1].callback(None)
        assert gate.delivered == ["n:1"]
        assert logged.having("node n:1 now proves its identity")
    finally:
        globalLogPublisher.removeObserver(logged)


def test_a_probe_that_cannot_start_counts_as_refused() -> None:
    def broken(node_id: str) -> Deferred[None]:
        raise ValueError("bad node id")

    clock = Clock()
    delivered: list[Any] = []
    gate = PeerAdmission(delivered.append, broken, lambda n: False, clock)
    gate.heard(announcement("n:1"))
    assert delivered == [] and not gate.admitted("n:1")
