"""Real 3- and 5-node clusters of ``twistd chatnode`` processes on loopback."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, sentinel, wait_for


def _statuses(nodes: list[Node]) -> list[dict]:
    return [s for s in (n.status() for n in nodes if n.alive()) if s is not None]


def test_three_nodes_elect_one_leader_and_order_chat_the_same(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    statuses = _statuses(nodes)
    assert sum(s["role"] == "leader" for s in statuses) == 1
    assert all(len(s["members"]) == 3 and all(m["voter"] for m in s["members"]) for s in statuses)

    clients = [IRCClient(node.irc_port, f"user{i}") for i, node in enumerate(nodes)]
    for client in clients:
        client.send("JOIN #order")
        client.expect(" 366 ")
    for round_ in range(5):
        for i, client in enumerate(clients):
            client.send(f"PRIVMSG #order :m{round_}-{i}")
    # Every member sees the others' 10 messages; their relative order is the same for all.
    views = []
    for client in clients:
        seen = [client.expect("PRIVMSG #order").rsplit(":", 1)[1] for _ in range(10)]
        views.append(seen)
    everything = [f"m{r}-{i}" for r in range(5) for i in range(3)]
    for i, view in enumerate(views):
        assert sorted(view) == sorted(m for m in everything if not m.endswith(f"-{i}"))
    for a in range(3):
        for b in range(3):
            common = [m for m in views[a] if m in views[b]]
            assert common == [m for m in views[b] if m in views[a]], (views[a], views[b])
    # ...and nothing more: no second copy of any of them comes before a later line.
    closer = IRCClient(nodes[0].irc_port, "closer")
    closer.send("JOIN #order")
    closer.expect(" 366 ")
    last = sentinel(closer, "#order", *clients)
    for client, view in zip(clients, views, strict=True):
        said = [line.rsplit(":", 1)[1] for line in client.lines if " PRIVMSG #order :" in line]
        assert said == [*view, last]
    for client in [*clients, closer]:
        client.close()


def test_killing_the_leader_elects_a_new_one_and_chat_continues(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    takeovers = []
    for _ in range(3):
        leader = wait_for(lambda: leader_of(nodes), 20, "a leader")
        survivors = [n for n in nodes if n is not leader]
        killed_at = time.monotonic()
        leader.kill()
        new = wait_for(partial(leader_of, survivors), 20, "a new leader", interval=0.02)
        takeovers.append(time.monotonic() - killed_at)
        assert new is not leader
        alice = IRCClient(survivors[0].irc_port, "alice")
        bob = IRCClient(survivors[1].irc_port, "bob")
        alice.send("JOIN #after")
        alice.expect(" 366 ")
        bob.send("JOIN #after")
        bob.expect(" 366 ")
        bob.send("PRIVMSG #after :still chatting")
        assert alice.expect("PRIVMSG #after").endswith(":still chatting")
        alice.close()
        bob.close()
        leader.start()  # the killed node rejoins and catches up
        wait_for(lambda: len(_statuses(nodes)) == 3, 20, "the killed node to come back")
    print(f"leader takeover seconds: {takeovers}")
    assert statistics.median(takeovers) < 1.0  # the target, status polling included
    # The restarted nodes caught up: everyone applied the same log.
    wait_for(
        lambda: len({s["applied_index"] for s in _statuses(nodes)}) == 1,
        20,
        "all nodes to apply the same index",
    )


@pytest.mark.slow
def test_five_nodes_survive_follower_kills_and_a_follower_catches_up(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(5, "--snapshot-every", "20", "--flood-rate", "0")
    leader = leader_of(nodes)
    assert leader is not None
    followers = [n for n in nodes if n is not leader]
    followers[0].kill()
    followers[1].kill()
    alice = IRCClient(leader.irc_port, "alice")
    alice.send("JOIN #five")
    alice.expect(" 366 ")
    for i in range(50):
        alice.send(f"PRIVMSG #five :line {i}")
    alice.send("TOPIC #five :written while two were down")
    alice.expect("TOPIC #five")
    followers[0].start()
    followers[1].start()
    target = leader.status()["commit_index"]  # type: ignore[index]
    wait_for(
        lambda: all((n.status() or {}).get("applied_index", 0) >= target for n in nodes),
        30,
        "restarted followers to catch up",
    )
    carol = IRCClient(followers[0].irc_port, "carol")
    carol.send("TOPIC #five")
    assert "written while two were down" in carol.expect(" 332 ")
    alice.close()
    carol.close()


def test_a_nick_race_across_nodes_has_exactly_one_winner(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    for round_ in range(5):
        racers = [IRCClient(node.irc_port) for node in nodes]
        for client in racers:  # as close to simultaneous as one thread gets
            client.send_raw(f"NICK racer{round_}\r\nUSER r 0 * :racer\r\n".encode())
        outcomes = [client.expect(" 001 ", " 433 ") for client in racers]
        assert sum(" 001 " in line for line in outcomes) == 1, outcomes
        for client, line in zip(racers, outcomes, strict=True):
            if " 433 " in line:  # the losers pick another nick and get in
                client.send(f"NICK r{client.sock.getsockname()[1]}")
                client.expect(" 001 ")
            client.close()


def test_a_user_who_reconnects_elsewhere_fetches_what_was_said_meanwhile(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    alice = IRCClient(nodes[0].irc_port, "alice")
    bob = IRCClient(nodes[1].irc_port, "bob")
    for client in (alice, bob):
        client.send("JOIN #news")
        client.expect(" 366 ")
    bob.close()  # bob's connection drops
    for i in range(3):
        alice.send(f"PRIVMSG #news :while you were away {i}")
    alice.send("TOPIC #news :sync")  # acknowledged once committed, after her messages
    alice.expect("TOPIC #news")
    caps = ("batch", "server-time", "message-tags", "draft/chathistory")
    bob = IRCClient(nodes[2].irc_port, "bob", caps=caps)
    bob.send("JOIN #news")
    bob.expect(" 366 ")
    bob.send("CHATHISTORY LATEST #news * 10")
    bob.expect("BATCH +")
    got = [bob.expect("PRIVMSG #news", "BATCH -") for _ in range(4)]
    assert [line.rsplit(":", 1)[1] for line in got[:3]] == [
        f"while you were away {i}" for i in range(3)
    ]
    assert all("msgid=" in line and "time=" in line for line in got[:3])
    assert "BATCH -" in got[3]
    alice.close()
    bob.close()
