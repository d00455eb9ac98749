"""Every acknowledged message reaches every channel member exactly once, in one order,
while the leader and then a sender's node are killed with SIGKILL mid-stream."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, leader_of, sentinel, wait_for

SENDERS = 3
MESSAGES = 40


class Receiver(threading.Thread):
    """Stays in #stream on a node that survives, recording every message text in order."""

    def __init__(self, port: int, nick: str) -> None:
        super().__init__(daemon=True)
        self.client = IRCClient(port, nick)
        self.client.send("JOIN #stream")
        self.client.expect(" 366 ")
        self.texts: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                line = self.client.read_line(timeout=0.5)
            except TimeoutError:
                continue
            except OSError:
                return
            if " PRIVMSG #stream :" in line:
                self.texts.append(line.rsplit(" :", 1)[1])


class Sender(threading.Thread):
    """Sends numbered lines; one counts as acknowledged once its echo came back."""

    def __init__(self, name: str, nodes: list[Node], first: Node) -> None:
        super().__init__(daemon=True)
        self.name_ = name
        self.nodes = nodes
        self.node = first
        self.acked: list[str] = []
        self.reconnects = 0
        self.client = self._connect()

    def _connect(self) -> IRCClient:
        nick = f"{self.name_}r{self.reconnects}" if self.reconnects else self.name_
        client = IRCClient(self.node.irc_port, nick, caps=["echo-message"])
        client.send("JOIN #stream")
        client.expect(" 366 ")
        return client

    def run(self) -> None:
        for i in range(MESSAGES):
            text = f"{self.name_}-{i:03d}"
            try:
                self.client.send(f"PRIVMSG #stream :{text}")
                self.client.expect(f" PRIVMSG #stream :{text}", timeout=15)
                self.acked.append(text)
            except (OSError, TimeoutError):
                self.client.close()
                self.reconnects += 1
                self.node = next(n for n in self.nodes if n.alive())
                self.client = self._connect()  # the unacknowledged line is not resent
        self.client.close()


def test_acknowledged_messages_survive_kills_exactly_once_in_one_order(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(5, "--flood-rate", "0", "--dead-node-timeout", "300")
    leader = leader_of(nodes)
    assert leader is not None
    followers = [n for n in nodes if n is not leader]
    victim, survivors = followers[0], followers[1:]
    receivers = [Receiver(node.irc_port, f"recv{i}") for i, node in enumerate(survivors[:2])]
    homes = [leader, victim, survivors[2]]
    senders = [Sender(f"s{i}", survivors, homes[i]) for i in range(SENDERS)]
    for thread in [*receivers, *senders]:
        thread.start()

    def acked() -> int:
        return sum(len(s.acked) for s in senders)

    wait_for(lambda: acked() >= 20, 60, "20 acknowledged messages")
    leader.kill()
    wait_for(lambda: acked() >= 60, 90, "60 acknowledged messages after the leader died")
    victim.kill()
    for sender in senders:
        sender.join(timeout=120)
        assert not sender.is_alive(), "a sender hung"
    everything = {text for sender in senders for text in sender.acked}
    wait_for(
        lambda: all(everything <= set(r.texts) for r in receivers),
        30,
        "every acknowledged message to reach every receiver",
    )
    closer = IRCClient(survivors[0].irc_port, "closer")
    closer.send("JOIN #stream")
    closer.expect(" 366 ")
    # A duplicate, if there were one, is in the log before this line, so arrives first.
    last = sentinel(closer, "#stream", *(lambda t, r=r: t in r.texts for r in receivers))
    closer.close()
    for receiver in receivers:
        receiver.stopping.set()
        receiver.join(timeout=5)
        receiver.client.close()
    first, second = (r.texts for r in receivers)
    assert first[-1] == last and second[-1] == last
    assert len(first) == len(set(first)), "a receiver saw a message twice"
    assert first == second, "receivers saw different orders"
    for sender in senders:  # each sender's own messages stay in its order
        mine = [t for t in first if t.startswith(f"{sender.name_}-")]
        assert mine == sorted(mine)
    print(f"acked {len(everything)}, delivered {len(first)}, "
          f"reconnects {[s.reconnects for s in senders]}")  # fmt: skip
