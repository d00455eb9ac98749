"""Client discovery on real processes: who answers a broadcast query, and what."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import IRCClient, Node, leader_of, wait_for
from twistedchat.discovery.wire import Decoder, Offer, Query, Rejected, encode


def ask(root: Path, nodes: list[Node]) -> list[Offer]:
    """Broadcast one query with the cluster's secret; collect offers for a second."""
    options = nodes[0].extra
    cluster = options[options.index("--cluster") + 1]
    port = int(options[options.index("--discovery-port") + 1])
    secret = bytes.fromhex((root / "cluster.secret").read_text().strip())
    decoder = Decoder(secret, cluster)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        sock.sendto(encode(Query(cluster, "q1"), secret, time.time()), ("127.255.255.255", port))
        offers: list[Offer] = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                data, _ = sock.recvfrom(2048)
            except TimeoutError:
                continue
            try:
                datagram = decoder.decode(data, time.time())
            except Rejected:
                continue
            if isinstance(datagram, Offer) and datagram.nonce == "q1":
                offers.append(datagram)
        return offers


def test_full_nodes_stay_silent_and_the_leader_assigns_the_least_loaded(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--max-clients", "1")
    leader = leader_of(nodes)
    assert leader is not None
    offers = wait_for(lambda: (o := ask(tmp_path, nodes)) and len(o) == 3 and o, 10, "3 offers")
    assert sum(o.assigned for o in offers) == 1
    # Fill the leader: it no longer answers, and the others still offer themselves.
    client = IRCClient(leader.irc_port, "filler")
    try:
        wait_for(
            lambda: (o := ask(tmp_path, nodes)) and len(o) == 2 and o,
            10,
            "the full leader to stop answering",
        )
        offers = ask(tmp_path, nodes)
        assert {o.irc for o in offers} == {f"127.0.0.1:{n.irc_port}" for n in nodes} - {
            f"127.0.0.1:{leader.irc_port}"
        }
        assert not any(o.assigned for o in offers)
    finally:
        client.close()
