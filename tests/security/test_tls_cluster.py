"""Real ``twistd chatnode`` processes with mutual TLS between them."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import (
    TWISTD,
    IRCClient,
    Node,
    cluster_options,
    free_ports,
    leader_of,
    new_node,
    wait_for,
)
from twistedchat.discovery import wire
from twistedchat.discovery.wire import Announcement
from twistedchat.raft import codec
from twistedchat.raft.codec import WIRE_VERSION, Hello
from twistedchat.security import pki

pytestmark = pytest.mark.integration


def tls_node(
    root: Path,
    name: str,
    ca_root: Path,
    *,
    certificate_for: Callable[[Node], str] | None = None,
    extra: Iterable[str] = (),
) -> Node:
    """A node of ``root``'s cluster whose certificate comes from ``ca_root``'s CA (for its
    own node id, unless ``certificate_for`` names another), in DATA-DIR/tls."""
    irc, peer, status = free_ports(3)
    node = Node(
        root / name, irc, peer, status,
        extra=[*cluster_options(root, insecure_peers=False), *extra],
    )  # fmt: skip
    if not (ca_root / "ca" / "ca.key").exists():
        pki.init_ca(ca_root)
    node_id = certificate_for(node) if certificate_for else node.node_id
    pki.issue_node(ca_root, node_id, node.data_dir / "tls", days=1)
    return node


@pytest.fixture
def started() -> Iterator[list[Node]]:
    nodes: list[Node] = []
    yield nodes
    for node in nodes:
        node.stop()


def start_all(started: list[Node], nodes: list[Node]) -> list[Node]:
    for node in nodes:
        node.start()
        started.append(node)
    return nodes


def members(node: Node) -> list[str]:
    status = node.status() or {}
    return sorted(m["id"] for m in status.get("members", []))


def two_node_cluster(tmp_path: Path, started: list[Node]) -> list[Node]:
    nodes = [tls_node(tmp_path, f"node{i}", tmp_path / "pki", extra=["--bootstrap-expect", "2"])
             for i in range(2)]  # fmt: skip
    start_all(started, nodes)
    wait_for(lambda: leader_of(nodes), 30, "a leader both nodes agree on")
    ids = sorted(n.node_id for n in nodes)
    wait_for(lambda: all(members(n) == ids for n in nodes), 30, "both nodes in the cluster")
    return nodes


def test_nodes_with_certificates_of_one_ca_form_a_cluster_and_chat(
    tmp_path: Path, started: list[Node]
) -> None:
    nodes = two_node_cluster(tmp_path, started)
    alice = IRCClient(nodes[0].irc_port, "alice")
    bob = IRCClient(nodes[1].irc_port, "bob")
    for client in (alice, bob):
        client.send("JOIN #tls")
        client.expect(" 366 ")
    alice.send("PRIVMSG #tls :over mutual TLS")
    assert bob.expect("PRIVMSG #tls").endswith(":over mutual TLS")
    alice.close()
    bob.close()
    for node in nodes:
        log = node.log_text()
        assert "(mutual TLS)" in log and "INSECURE" not in log
        assert "TLS handshake failed" not in log and "is not who it claims" not in log


def wait_refused(leader: Node, intruder: str, why: str) -> None:
    line = f"not admitting node {intruder}"
    wait_for(lambda: line in leader.log_text(), 30, f"the leader to refuse {intruder}")
    assert why in next(x for x in leader.log_text().splitlines() if line in x)
    time.sleep(3)  # several membership rounds and announcements later...


def test_a_node_with_a_certificate_of_another_ca_is_not_added(
    tmp_path: Path, started: list[Node]
) -> None:
    nodes = two_node_cluster(tmp_path, started)
    intruder = tls_node(tmp_path, "intruder", tmp_path / "other-pki",
                        extra=["--bootstrap-expect", "2"])  # fmt: skip
    start_all(started, [intruder])
    leader = wait_for(lambda: leader_of(nodes), 30, "a leader")
    wait_refused(leader, intruder.node_id, "certificate verify failed")
    assert intruder.alive()
    ids = sorted(n.node_id for n in nodes)
    assert all(members(n) == ids for n in nodes)  # ...and the cluster did not add it
    assert leader.node_id not in members(intruder)
    # Both ways: the intruder's own attempts at the cluster's nodes fail the handshake too.
    assert "TLS handshake failed" in intruder.log_text()


class Impostor:
    """A hostile node, in this process: it knows the cluster secret and holds a certificate
    of the cluster's CA, but for another node's id. It announces itself by discovery as
    a node wanting to join (with the cluster's settings fingerprint), listens on its peer
    port with that certificate, and dials a node claiming its own id in the Hello."""

    def __init__(self, root: Path, cluster: str, certificate: Path, settings: str) -> None:
        (self.port,) = free_ports(1)
        self.node_id = f"127.0.0.1:{self.port}"
        self.root = root
        self.cluster = cluster
        self.certificate = certificate
        self.settings = settings
        self.secret = bytes.fromhex((root / "cluster.secret").read_text().strip())
        self.stopping = threading.Event()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.threads = [threading.Thread(target=self._announce, daemon=True),
                        threading.Thread(target=self._serve, daemon=True)]  # fmt: skip
        for thread in self.threads:
            thread.start()

    def context(self, side: ssl._SSLMethod) -> ssl.SSLContext:
        context = ssl.SSLContext(side)
        context.load_cert_chain(self.certificate / "node.pem", self.certificate / "node.key")
        context.load_verify_locations(self.certificate / "ca.pem")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _announce(self) -> None:
        port = int((self.root / "discovery.port").read_text())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            while not self.stopping.wait(0.5):
                hello = Announcement(
                    cluster=self.cluster, node_id=self.node_id, peer=self.node_id,
                    irc="127.0.0.1:1", status="127.0.0.1:1", role="joining", term=0,
                    leader=None, clients=0, capacity=10, has_state=False, voter=False,
                    settings=self.settings,
                )  # fmt: skip
                sock.sendto(wire.encode(hello, self.secret, time.time()),
                            ("127.255.255.255", port))  # fmt: skip

    def _serve(self) -> None:
        context = self.context(ssl.PROTOCOL_TLS_SERVER)
        self.server.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                raw, _ = self.server.accept()
            except OSError:
                continue
            with contextlib.suppress(OSError), raw:
                raw.settimeout(2)
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.recv(1)

    def dial(self, node: Node) -> bytes:
        """Connect to ``node``'s peer port as ourselves; what it answers before closing."""
        context = self.context(ssl.PROTOCOL_TLS_CLIENT)
        with socket.create_connection(("127.0.0.1", node.peer_port), timeout=10) as raw, \
                context.wrap_socket(raw) as tls:  # fmt: skip
            tls.sendall(codec.encode(Hello(self.cluster, self.node_id, WIRE_VERSION)))
            try:
                return tls.recv(100)
            except (ConnectionError, ssl.SSLError):
                return b""

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.server.close()


def test_a_valid_certificate_for_another_node_id_is_refused(
    tmp_path: Path, started: list[Node]
) -> None:
    nodes = two_node_cluster(tmp_path, started)
    leader = wait_for(lambda: leader_of(nodes), 30, "a leader")
    # Signed by the cluster's CA, but for node0's id: same host, another port.
    stolen = pki.issue_node(tmp_path / "pki", nodes[0].node_id, tmp_path / "stolen", days=1)
    settings = (leader.status() or {})["settings_fingerprint"]
    impostor = Impostor(tmp_path, f"test-{tmp_path.name}", stolen, settings)
    try:
        # Dialling in: the TLS handshake passes (right CA), the Hello's claim does not.
        assert impostor.dial(leader) == b""
        wait_for(lambda: "is not who it claims" in leader.log_text(), 10, "the refusal")
        line = next(x for x in leader.log_text().splitlines() if "is not who it claims" in x)
        assert f"node '{impostor.node_id}'" in line and nodes[0].node_id in line
        # Announced by discovery: the leader probes it, sees another node's certificate.
        wait_refused(leader, impostor.node_id, f"is not the one of node {impostor.node_id}")
        ids = sorted(n.node_id for n in nodes)
        assert all(members(n) == ids for n in nodes)
    finally:
        impostor.stop()


@pytest.mark.parametrize("certificate", ["none", "other-node"])
def test_a_node_without_its_certificate_and_without_insecure_peers_does_not_start(
    tmp_path: Path, certificate: str
) -> None:
    (peer,) = free_ports(1)
    data = tmp_path / "data"
    if certificate == "other-node":
        pki.init_ca(tmp_path)
        pki.issue_node(tmp_path, "127.0.0.1:1", data / "tls")
    result = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "chatnode", "--data-dir", str(data),
         "--peer", f"tcp:{peer}:interface=127.0.0.1"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    if certificate == "none":
        assert "chatnode ca init" in last and f"chatnode ca issue 127.0.0.1:{peer}" in last
        assert "--insecure-peers" in last and str(data / "tls") in last
    else:
        assert f"does not fit this node's id 127.0.0.1:{peer}" in last


def test_insecure_peers_says_so_loudly(tmp_path: Path, started: list[Node]) -> None:
    node = new_node(tmp_path, "plain")  # the harness passes --insecure-peers
    start_all(started, [node])
    wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
    warning = [line for line in node.log_text().splitlines() if "INSECURE" in line]
    assert len(warning) == 1 and "--insecure-peers" in warning[0]
    assert "(plain TCP)" in node.log_text()
