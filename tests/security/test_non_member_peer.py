"""A process with a valid certificate of the cluster CA, for its own id, that is no member.

Its TLS handshake and its Hello pass (the certificate is the one of the id it claims), so
only the Raft layer stands between it and the log: it must not write entries, move a
term, or speak in a member's name (decision 0018).
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, free_ports, leader_of, wait_for
from tests.security.test_tls_cluster import members, start_all, started, tls_node
from twistedchat.chat.command import CONNECT, Command
from twistedchat.chat.limits import ChatLimits
from twistedchat.node.fingerprint import settings_fingerprint
from twistedchat.raft import codec
from twistedchat.raft.codec import WIRE_VERSION, Hello
from twistedchat.raft.messages import AppendEntries, Entry, EntryKind, RaftMessage
from twistedchat.security import pki
from twistedchat.wire.message import Message

pytestmark = pytest.mark.integration

__all__ = ["started"]  # the fixture, imported for this module's tests


class Outsider:
    """Holds a certificate of the cluster CA for 127.0.0.1:PORT, a node that never joined,
    and the cluster's settings (the nodes run the defaults), so its Hello passes."""

    def __init__(self, root: Path, cluster: str) -> None:
        (port,) = free_ports(1)
        self.node_id = f"127.0.0.1:{port}"
        self.cluster = cluster
        self.tls = pki.issue_node(root / "pki", self.node_id, root / "outsider", days=1)

    def send(self, node: Node, *messages: RaftMessage) -> bytes:
        """Dial ``node``'s peer port as ourselves, send ``messages``; what comes back."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_cert_chain(self.tls / "node.pem", self.tls / "node.key")
        context.load_verify_locations(self.tls / "ca.pem")
        context.check_hostname = False
        settings = settings_fingerprint(ChatLimits())
        assert settings.digest == (node.status() or {})["settings_fingerprint"]
        frames = codec.encode(Hello(self.cluster, self.node_id, WIRE_VERSION, settings.canonical))
        frames += b"".join(codec.encode(m) for m in messages)
        with socket.create_connection(("127.0.0.1", node.peer_port), timeout=10) as raw, \
                context.wrap_socket(raw) as link:  # fmt: skip
            link.sendall(frames)
            link.settimeout(3)
            try:
                return link.recv(100)
            except (TimeoutError, ConnectionError, ssl.SSLError):
                return b""


def three_node_cluster(tmp_path: Path, started: list[Node]) -> list[Node]:
    nodes = [tls_node(tmp_path, f"node{i}", tmp_path / "pki", extra=["--bootstrap-expect", "3"])
             for i in range(3)]  # fmt: skip
    start_all(started, nodes)
    ids = sorted(n.node_id for n in nodes)
    wait_for(lambda: leader_of(nodes) and all(members(n) == ids for n in nodes), 60,
             "three members and a leader")  # fmt: skip
    return nodes


def forged_chat(node_id: str, index: int, term: int) -> tuple[Entry, ...]:
    """A user, a join and a line, as the log would carry them, from ``index`` on."""
    lines = [Message(CONNECT, ("mallory", "~m", "127.0.0.1", "M")),
             Message("JOIN", ("#room",)), Message("PRIVMSG", ("#room", "forged line"))]  # fmt: skip
    return tuple(
        Entry(term, index + i, EntryKind.COMMAND,
              Command("forged", i + 1, int(time.time() * 1000), node_id, line).encode())
        for i, line in enumerate(lines)
    )  # fmt: skip


def test_a_non_member_with_a_valid_certificate_can_neither_write_nor_move_a_term(
    tmp_path: Path, started: list[Node]
) -> None:
    nodes = three_node_cluster(tmp_path, started)
    leader = leader_of(nodes)
    assert leader is not None
    follower = next(n for n in nodes if n is not leader)
    alice = IRCClient(leader.irc_port, "alice")
    bob = IRCClient(follower.irc_port, "bob")  # on the node the forgery is sent to
    for client in (alice, bob):
        client.send("JOIN #room")
        client.expect(" 366 ")
    outsider = Outsider(tmp_path, f"test-{tmp_path.name}")
    status = follower.status() or {}
    term, last = status["term"], status["commit_index"]
    forged = forged_chat(outsider.node_id, last + 1, term + 1)
    append = AppendEntries(outsider.node_id, follower.node_id, term + 1, last, term, forged,
                           last + len(forged))  # fmt: skip
    outsider.send(follower, append)
    wait_for(lambda: "which is not a member" in follower.log_text(), 10, "the refusal")
    alice.send("PRIVMSG #room :after the forgery")  # total order puts it after any forgery
    line = bob.expect("PRIVMSG #room")
    assert line.endswith(":after the forgery"), line
    assert all((n.status() or {})["term"] == term for n in nodes)
    assert leader_of(nodes) is leader
    refusals = [x for x in follower.log_text().splitlines() if "not a member" in x]
    assert len(refusals) == 1 and outsider.node_id in refusals[0]
    assert (follower.status() or {})["peer_links"]["ignored_from_non_members"] >= 1
    alice.close()
    bob.close()


def test_a_message_in_a_members_name_closes_the_link(tmp_path: Path, started: list[Node]) -> None:
    nodes = three_node_cluster(tmp_path, started)
    leader = leader_of(nodes)
    assert leader is not None
    follower = next(n for n in nodes if n is not leader)
    outsider = Outsider(tmp_path, f"test-{tmp_path.name}")
    term = (follower.status() or {})["term"]
    in_leaders_name = AppendEntries(leader.node_id, follower.node_id, term + 1, 0, 0, (), 0)
    assert outsider.send(follower, in_leaders_name) == b""
    wait_for(lambda: "claims to come from" in follower.log_text(), 10, "the link closed")
    line = next(x for x in follower.log_text().splitlines() if "claims to come from" in x)
    assert outsider.node_id in line and leader.node_id in line
    assert (follower.status() or {})["peer_links"]["spoofed_src"] == 1
    assert all((n.status() or {})["term"] == term for n in nodes)
