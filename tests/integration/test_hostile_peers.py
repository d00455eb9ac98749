"""Bad input on the peer and discovery ports of a real 3-node cluster with peer TLS, while
users chat (issue 15, item 5); the IRC side is tests/integration/test_hostile.py.

The attacker here holds no certificate of the cluster's CA and does not know the cluster
secret, except where a test says otherwise: it sends random bytes, an over-long length
prefix, a TLS ClientHello followed by garbage, a client certificate of another CA and
plain TCP to the TLS peer port, leaves many connections idle, and broadcasts random,
oversized, replayed, wrongly signed and other-cluster discovery datagrams. Every node
must keep serving (every line the user says arrives, in order, once), stay within a
memory bound, log each cause at most once (the rate limit is one line a minute, and the
test is shorter than that), and log no traceback (the harness's process watch fails the
test on one). Every loop is bounded in count and in time.

Not here (another engineer's tests): a valid certificate of a non-member, and Raft
messages whose ``src`` is not the authenticated peer.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import (
    IRCClient,
    Node,
    cluster_options,
    free_ports,
    leader_of,
    sentinel,
    wait_for,
)
from twistedchat.discovery import wire
from twistedchat.discovery.wire import MAX_DATAGRAM, Query
from twistedchat.raft import codec
from twistedchat.raft.codec import MAX_FRAME, WIRE_VERSION, Hello
from twistedchat.raft.peer import PeerSettings
from twistedchat.security import pki

pytestmark = pytest.mark.integration

#: RSS growth allowed per node over the whole attack. A node runs at about 60 MiB; the
#: attack opens some hundreds of short connections and thousands of datagrams, none of
#: which may be kept, so anything beyond allocator noise and warm-up would be a leak.
RSS_BOUND_KIB = 32 * 1024
#: The nodes' hello timeout (PeerSettings' default; twistd has no option for it).
HELLO_TIMEOUT = PeerSettings().hello_timeout
#: How long a node may take to close a connection it refuses (TLS failure, bad frame).
CLOSE_WITHIN = 5.0
IDLE_CONNECTIONS = 60


# -- the cluster -------------------------------------------------------------------------


def tls_cluster(root: Path, size: int = 3) -> list[Node]:
    """``size`` nodes with certificates of one CA (in ``root/pki``), started, one leader,
    every node a member."""
    nodes = []
    for i in range(size):
        irc, peer, status = free_ports(3)
        node = Node(
            root / f"node{i}", irc, peer, status,
            extra=[*cluster_options(root, insecure_peers=False), "--bootstrap-expect", str(size),
                   "--flood-rate", "0"],  # the chat's pace is ours, not IRC flood control's
        )  # fmt: skip
        if not (root / "pki" / "ca" / "ca.key").exists():
            pki.init_ca(root / "pki")
        pki.issue_node(root / "pki", node.node_id, node.data_dir / "tls", days=1)
        nodes.append(node)
    for node in nodes:
        node.start()
    wait_for(lambda: leader_of(nodes), 30, "a leader every node agrees on")
    ids = sorted(n.node_id for n in nodes)

    def all_members() -> bool:
        return all(sorted(m["id"] for m in (n.status() or {}).get("members", [])) == ids
                   for n in nodes)  # fmt: skip

    wait_for(all_members, 30, "every node a member")
    return nodes


def rss_kib(node: Node) -> int:
    assert node.process is not None
    status = Path(f"/proc/{node.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def log_lines(node: Node, needle: str) -> list[str]:
    return [line for line in node.log_text().splitlines() if needle in line]


class Chat:
    """alice (node 0) says a numbered line every 50 ms, each acknowledged by its echo,
    while bob (node 1) and carol (node 2) collect what they hear, each in its own thread."""

    MAX_LINES = 600  # about 30 s of chat at most

    def __init__(self, nodes: list[Node]) -> None:
        self.alice = IRCClient(nodes[0].irc_port, "alice", caps=["echo-message"])
        self.readers = {"bob": IRCClient(nodes[1].irc_port, "bob"),
                        "carol": IRCClient(nodes[2].irc_port, "carol")}  # fmt: skip
        for user in (self.alice, *self.readers.values()):
            user.send("JOIN #calm")
            user.expect(" 366 ")
        self.said: list[str] = []
        self.latencies: list[float] = []  # seconds from alice's line to its echo
        self.heard: dict[str, list[str]] = {name: [] for name in self.readers}
        self.errors: list[str] = []
        self.quiet = threading.Event()  # alice stops talking
        self.done = threading.Event()  # the readers stop reading
        self.talker = threading.Thread(target=self._say, daemon=True)
        self.listeners = [threading.Thread(target=self._listen, args=(name,), daemon=True)
                          for name in self.readers]  # fmt: skip
        for thread in (self.talker, *self.listeners):
            thread.start()

    def _say(self) -> None:
        try:
            for i in range(self.MAX_LINES):
                if self.quiet.is_set():
                    return
                text = f"calm line {i}"
                sent = time.monotonic()
                self.alice.send(f"PRIVMSG #calm :{text}")
                self.alice.expect(f" PRIVMSG #calm :{text}", timeout=15)  # committed
                self.latencies.append(time.monotonic() - sent)
                self.said.append(text)
                time.sleep(0.05)
        except Exception as error:  # a lost echo is what this test looks for
            self.errors.append(f"alice: {error!r}")

    def _listen(self, name: str) -> None:
        reader = self.readers[name]
        while not self.done.is_set():
            try:
                line = reader.read_line(timeout=0.5)
            except TimeoutError:
                continue
            except Exception as error:
                self.errors.append(f"{name}: {error!r}")
                return
            if " PRIVMSG #calm :" in line:
                self.heard[name].append(line.split(" PRIVMSG #calm :", 1)[1])

    def finish(self) -> None:
        """Stop alice, then say a sentinel after her last line and wait until both readers
        heard it: total order puts any late or duplicate copy of her lines before it."""
        self.quiet.set()
        self.talker.join(20)
        text = sentinel(self.alice, "#calm", *(self._has(name) for name in self.readers))
        self.done.set()
        for thread in self.listeners:
            thread.join(10)
        for heard in self.heard.values():
            heard.remove(text)

    def _has(self, name: str) -> Callable[[str], bool]:
        return lambda text: text in self.heard[name]

    def close(self) -> None:
        self.quiet.set()
        self.done.set()
        for user in (self.alice, *self.readers.values()):
            user.close()


# -- the peer port -----------------------------------------------------------------------


def closed_by_peer(sock: socket.socket | ssl.SSLSocket, within: float) -> bool:
    """Read and drop whatever comes until the other side closes (True) or ``within``
    seconds pass (False)."""
    deadline = time.monotonic() + within
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True
    return False


def send_raw(port: int, data: bytes) -> bool:
    """Connect, send ``data``; whether the node closed the connection in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(data)
        return closed_by_peer(sock, CLOSE_WITHIN)


def client_hello() -> bytes:
    """The first flight of a real TLS client (its ClientHello), from an in-memory handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def client_context(tls_dir: Path) -> ssl.SSLContext:
    """A TLS client presenting ``tls_dir``'s certificate; the node's is not checked (the
    attacker does not care who answers)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(tls_dir / "node.pem", tls_dir / "node.key")
    return context


def tls_attempt(port: int, context: ssl.SSLContext, data: bytes = b"") -> bool:
    """A TLS handshake with ``context``, then ``data``; whether the node closed the link."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            tls = context.wrap_socket(raw)
        except (ssl.SSLError, ConnectionError):
            return True  # refused during the handshake itself
        with tls:
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                tls.sendall(data)
            return closed_by_peer(tls, CLOSE_WITHIN)


def peer_port_attacks(rng: random.Random, port: int, cluster: str, other_ca: Path) -> None:
    """Every attack on one node's TLS peer port, ten times each in random order; the node
    must close every one of these connections."""
    hello = client_hello()
    frame = codec.encode(Hello(cluster, "127.0.0.1:1", WIRE_VERSION))
    another_ca = client_context(other_ca)
    attacks: dict[str, Callable[[], bool]] = {
        "random bytes": lambda: send_raw(port, rng.randbytes(rng.randrange(1, 8192))),
        "huge length prefix": lambda: send_raw(port, struct.pack(">I", 2**32 - 1) + bytes(64)),
        "ClientHello, then garbage": lambda: send_raw(port, hello + rng.randbytes(2048)),
        "plain TCP (a Hello in clear)": lambda: send_raw(port, frame),
        "a certificate of another CA": lambda: tls_attempt(port, another_ca, frame),
    }
    order = [name for name in attacks for _ in range(10)]
    rng.shuffle(order)
    for name in order:
        assert attacks[name](), f"{name}: the node at {port} did not close the connection"


@contextlib.contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def all_closed_by_peer(sockets: list[socket.socket], within: float) -> bool:
    deadline = time.monotonic() + within
    return all(closed_by_peer(s, max(deadline - time.monotonic(), 0.01)) for s in sockets)


# -- the discovery port ------------------------------------------------------------------


def capture_datagram(port: int, within: float = 10.0) -> bytes:
    """One discovery datagram a node broadcast, recorded as an eavesdropper would (the
    port is shared with SO_REUSEPORT, and broadcasts reach every socket bound to it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("", port))
        sock.settimeout(within)
        data, _ = sock.recvfrom(65536)
        return data


def largest_query(cluster: str, secret: bytes) -> bytes:
    """A valid query as big as a datagram may be, its nonce JSON-escaped six bytes a
    character: the offer echoing that nonce beside a node's addresses cannot fit."""
    for length in range(256, 0, -1):
        with contextlib.suppress(ValueError):  # too big to send: one character less
            return wire.encode(Query(cluster, "\x01" * length), secret, time.time())
    raise AssertionError("no query fits")


def discovery_attacks(rng: random.Random, port: int, secret: bytes, cluster: str) -> None:
    """Broadcast every kind of bad datagram to the nodes' discovery port (loopback only)."""
    recorded = capture_datagram(port)
    datagrams: list[bytes] = []
    for i in range(100):
        datagrams.append(rng.randbytes(rng.randrange(1, MAX_DATAGRAM)))  # random
        datagrams.append(wire.MAGIC + rng.randbytes(rng.randrange(33, MAX_DATAGRAM - 4)))  # forged
        datagrams.append(recorded)  # replayed
        query = Query(cluster, f"nonce{i}")
        datagrams.append(wire.encode(query, rng.randbytes(32), time.time()))  # bad HMAC
        datagrams.append(wire.encode(Query("another", f"n{i}"), secret, time.time()))
        if i % 5 == 0:  # oversized: up to what one UDP datagram on loopback can carry
            datagrams.append(rng.randbytes(rng.choice([MAX_DATAGRAM + 1, 9000, 65000])))
            # A client's query (clients hold the secret) that fits, while the offer that
            # echoes its nonce would not: the nodes must drop their answer, not raise.
            datagrams.append(largest_query(cluster, secret))
    rng.shuffle(datagrams)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for number, datagram in enumerate(datagrams):
            sock.sendto(datagram, ("127.255.255.255", port))
            if number % 50 == 49:
                time.sleep(0.02)  # a flood, but one the kernel's receive buffers hold


# -- the tests ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_bad_input_on_peer_and_discovery_ports_harms_no_one(tmp_path: Path) -> None:
    nodes = tls_cluster(tmp_path)
    pki.init_ca(tmp_path / "other-pki")
    other_ca = pki.issue_node(tmp_path / "other-pki", "127.0.0.1:1", tmp_path / "other", days=1)
    cluster = f"test-{tmp_path.name}"
    secret = bytes.fromhex((tmp_path / "cluster.secret").read_text().strip())
    discovery_port = int((tmp_path / "discovery.port").read_text())
    chat = Chat(nodes)
    try:
        time.sleep(1)  # a few lines said before the attack, as a baseline
        before = [rss_kib(n) for n in nodes]
        print(f"before the attack: echo ms {[round(x * 1000) for x in chat.latencies]}")
        rng = random.Random(15)
        with contextlib.ExitStack() as idle:
            held = [idle.enter_context(idle_connections(n.peer_port, IDLE_CONNECTIONS))
                    for n in nodes]  # fmt: skip
            opened = time.monotonic()
            discovery_attacks(rng, discovery_port, secret, cluster)
            for node in nodes:
                peer_port_attacks(rng, node.peer_port, cluster, other_ca)
            for sockets in held:  # the hello timeout closes every idle connection
                assert all_closed_by_peer(sockets, opened + HELLO_TIMEOUT + 10 - time.monotonic())
        chat.finish()
        after = [rss_kib(n) for n in nodes]
    finally:
        chat.close()
    assert chat.errors == []
    assert len(chat.said) > 20, chat.said  # the chat went on during the whole attack
    for name, heard in chat.heard.items():
        assert heard == chat.said, name  # every line, in order, once
    ms = sorted(round(x * 1000) for x in chat.latencies)
    print(f"{len(ms)} lines said, echo ms p50 {ms[len(ms) // 2]} max {ms[-1]}; "
          f"RSS KiB before {before}, after {after}")  # fmt: skip
    for node, was, now in zip(nodes, before, after, strict=True):
        assert now - was < RSS_BOUND_KIB, (node.node_id, was, now)
    for node in nodes:
        counters = (node.status() or {})["discovery"]
        for reason in ("garbage", "bad-mac", "other-cluster", "replay", "too-big"):
            assert counters[reason] > 0, (node.node_id, counters)  # every cause got there
            lines = [x for x in log_lines(node, "dropped a datagram") if x.endswith(f": {reason}")]
            assert len(lines) <= 1, lines
        # Every TLS-level cause (random bytes, a length prefix, a ClientHello and garbage,
        # plain TCP, another CA) fails the handshake: one line per remote host a minute.
        assert len(log_lines(node, "TLS handshake failed")) <= 1, log_lines(node, "TLS")
        assert len(log_lines(node, "sent no hello")) <= 1, log_lines(node, "sent no hello")
        assert len(log_lines(node, "discovery: not sending Offer")) == 1
        print(node.node_id, "discovery", counters, "log lines:",
              {cause: len(log_lines(node, cause)) for cause in ("dropped a datagram",
               "not sending", "TLS handshake failed", "sent no hello")})  # fmt: skip
        assert "Traceback" not in node.log_text()


def single_tls_node(root: Path) -> Node:
    (node,) = tls_cluster(root, size=1)
    return node


def test_idle_peer_connections_are_closed_and_logged_once_a_minute(tmp_path: Path) -> None:
    """Anyone who reaches the peer port can open links that never say Hello: each is
    closed at the hello timeout, and the log says so once a minute, not once a link."""
    node = single_tls_node(tmp_path)
    with idle_connections(node.peer_port, 20) as sockets:
        assert all_closed_by_peer(sockets, HELLO_TIMEOUT + 10)
    assert len(log_lines(node, "sent no hello")) <= 1, log_lines(node, "sent no hello")
    assert (node.status() or {}).get("role") == "leader"


def test_a_huge_frame_before_the_hello_is_refused_at_once(tmp_path: Path) -> None:
    """The attacker holds a certificate of the cluster's CA (for an id that is no member)
    to get past TLS to the framing; it never sends a Hello, let alone a Raft message.
    A link's first frame may be only as large as a Hello can be (``MAX_HELLO_FRAME``)."""
    node = single_tls_node(tmp_path)
    tls_dir = pki.issue_node(tmp_path / "pki", "127.0.0.1:1", tmp_path / "outsider", days=1)
    context = client_context(tls_dir)
    before = rss_kib(node)
    links = []
    try:
        for _ in range(8):  # a frame as large as the limit allows, 16 MiB of it sent
            raw = socket.create_connection(("127.0.0.1", node.peer_port), timeout=10)
            links.append(tls := context.wrap_socket(raw))
            tls.sendall(struct.pack(">I", MAX_FRAME) + bytes([WIRE_VERSION]))
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                for _ in range(16):
                    tls.sendall(bytes(1024 * 1024))
        peak = rss_kib(node)
        assert all(closed_by_peer(link, CLOSE_WITHIN) for link in links)
    finally:
        for link in links:
            link.close()
    assert peak - before < RSS_BOUND_KIB, (before, peak)
    for _ in range(20):  # a length over the limit: refused at once, logged once
        assert tls_attempt(node.peer_port, context, struct.pack(">I", 2**32 - 1))
    assert len(log_lines(node, "bad frame")) <= 1, log_lines(node, "bad frame")
