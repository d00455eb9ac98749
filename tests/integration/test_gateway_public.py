"""A gateway anyone can run (issue 18): no cluster secret, only one node's address (and,
for TLS, the CA certificate the nodes' IRC certificates come from).

Three nodes; the seed the gateway is given is loaded with clients, so the leader assigns
another node. The gateway must land there (it learnt the nodes and the assignment from
the public directory on the seed's IRC port), and when that node is killed with SIGKILL
it must fail over with no visible disconnect and every line once, in order, as the
secret-discovering gateway of ``test_gateway.py`` does.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.harness import (
    STARTED,
    TWISTD,
    Gateway,
    IRCClient,
    Node,
    free_ports,
    leader_of,
    make_cluster,
    sentinel,
    wait_for,
)
from tests.integration.test_gateway import LINES, Recorder, joined, stream
from twistedchat.discovery.public import Answer, AnswerReader
from twistedchat.security.pki import init_ca, issue_node
from twistedchat.wire.grammar import parse_line


@dataclass
class PublicGateway(Gateway):
    """A ``twistd chatgateway`` given only ``--join`` (and ``--tls-ca``): no secret file,
    no cluster name, no discovery port."""

    seeds: list[str] = field(default_factory=list)

    def start(self) -> None:
        command = [
            TWISTD, "-n", "--pidfile=", "chatgateway",
            "--listen", f"tcp:{self.port}:interface=127.0.0.1", "--keepalive", "1",
            "--secret-file", str(self.root / "no-such.secret"),
            *[arg for seed in self.seeds for arg in ("--join", seed)], *self.extra,
        ]  # fmt: skip
        with open(self.watch.log_path, "ab") as log:
            log_from = log.tell()
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
            self.watch.started(self.process, log_from)
        if self not in STARTED:
            STARTED.append(self)
        wait_for(self._listening, 30, "the gateway to listen")


def ask_nodes(port: int) -> Answer:
    """The public directory answer of the node at ``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"NODES testnonce1\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    reader = AnswerReader("testnonce1")
    answers = [reader.feed(parse_line(line)) for line in data.splitlines()]
    assert answers[-1] is not None, data
    return answers[-1]


def start_cluster(root: Path, tls: bool) -> tuple[list[Node], dict[str, int], Path | None]:
    """Three nodes; with ``tls`` each also serves IRC over TLS with a certificate of one
    CA. Returns the nodes, the TLS port of each (by node id) and the CA certificate."""
    nodes = make_cluster(root, 3, ["--flood-rate", "0"])
    tls_ports: dict[str, int] = {}
    ca = None
    if tls:
        pki = root / "pki"
        ca = init_ca(pki) / "ca.pem"
        for node in nodes:
            (port,) = free_ports(1)
            files = issue_node(pki, f"127.0.0.1:{port}", root / f"irc-tls-{port}")
            key, cert = files / "node.key", files / "node.pem"
            node.extra += [
                "--irc",
                f"ssl:{port}:privateKey={key}:certKey={cert}:interface=127.0.0.1",
            ]
            tls_ports[node.node_id] = port
    for node in nodes:
        node.start()
    wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
    return nodes, tls_ports, ca


def run_public_failover(root: Path, tls: bool) -> None:
    nodes, tls_ports, ca = start_cluster(root, tls)
    leader = leader_of(nodes)
    assert leader is not None
    seed, target = [n for n in nodes if n is not leader]
    # Load the seed (two users) and the leader (one): the leader assigns the target.
    bob = joined(IRCClient(seed.irc_port, "bob", caps=["echo-message"]))
    fillers = [IRCClient(seed.irc_port, "filler1"), IRCClient(leader.irc_port, "filler2")]
    wanted = f"127.0.0.1:{target.irc_port}"

    def assigns_target() -> bool:
        answer = ask_nodes(leader.irc_port)
        return answer.assigned is not None and answer.nodes[answer.assigned].plain == wanted

    wait_for(assigns_target, 15, "the leader to assign the unloaded node")
    if tls:
        assert ca is not None
        extra = ["--tls-ca", str(ca)]
        seeds = [f"127.0.0.1:{tls_ports[seed.node_id]}"]
    else:
        extra, seeds = [], [f"127.0.0.1:{seed.irc_port}"]
    gateway = PublicGateway(root, free_ports(1)[0], extra, seeds=seeds)
    gateway.start()
    try:
        alice = joined(IRCClient(gateway.port, "alice", caps=["echo-message"]))
        wait_for(lambda: (target.status() or {}).get("clients") == 1, 10, "alice on the target")
        bob.expect(":alice!")  # both are in: from now on a JOIN would be noise
        recorders = {"alice": Recorder(alice), "bob": Recorder(bob)}
        for recorder in recorders.values():
            recorder.start()

        def kill_early(i: int) -> None:
            if i == LINES // 4:
                target.signal(signal.SIGKILL)

        threads = [
            threading.Thread(target=stream, args=(alice, "alice", kill_early)),
            threading.Thread(target=stream, args=(bob, "bob")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        expected = {"alice": [f"alice-{i:03d}" for i in range(LINES)]}

        def complete() -> bool:
            expected["bob"] = recorders["bob"].said_by("bob")
            return all(r.said_by(n) == expected[n] for r in recorders.values() for n in expected)

        try:
            wait_for(complete, 60, "every line at both users", interval=0.2)
            sentinel(bob, "#stream", *(lambda t, r=r: t in r.texts for r in recorders.values()))
        except AssertionError:
            print(gateway.log_text()[-4000:])
            raise
        finally:
            for recorder in recorders.values():
                recorder.stopping.set()
        assert len(expected["bob"]) >= LINES // 2, expected["bob"]
        for name, recorder in recorders.items():
            for nick in expected:
                assert recorder.said_by(nick) == expected[nick], (name, nick, recorder.texts)
        assert recorders["alice"].noise == []
        assert not [line for line in recorders["bob"].noise if "alice" in line]
        # alice went where the directory sent her: a survivor, never the dead target.
        survivors = [n for n in nodes if n is not target]
        assert sum((n.status() or {}).get("clients", 0) for n in survivors) == 4
    finally:
        gateway.stop()
        for client in [*fillers, bob]:
            with contextlib.suppress(OSError):
                client.close()


@pytest.mark.integration
def test_a_gateway_with_one_address_follows_the_leader_and_survives_a_kill(tmp_path: Path) -> None:
    run_public_failover(tmp_path, tls=False)


@pytest.mark.integration
def test_a_gateway_with_the_ca_and_one_address_does_the_same_over_tls(tmp_path: Path) -> None:
    run_public_failover(tmp_path, tls=True)
