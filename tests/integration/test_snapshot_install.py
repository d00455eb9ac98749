"""A follower left behind the leader's compacted log installs a snapshot, and its users
still get every message of the entries it skipped, in order (no failover told them)."""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, leader_of, sentinel, wait_for

#: More entries than the leader pipelines to a stopped follower before it pauses (64
#: AppendEntries of about one entry each): those wait in the follower's socket buffer
#: and would let it catch up without the snapshot.
MESSAGES = 120


def test_a_follower_that_installs_a_snapshot_replays_the_gap_to_its_users(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3, "--snapshot-every", "10", "--flood-rate", "0")
    leader = leader_of(nodes)
    assert leader is not None
    follower = next(n for n in nodes if n is not leader)
    alice = IRCClient(leader.irc_port, "alice", caps=["echo-message"])
    bob = IRCClient(follower.irc_port, "bob")
    for client in (alice, bob):
        client.send("JOIN #gap")
        client.expect(" 366 ")
    alice.send("PRIVMSG #gap :before")
    bob.expect("PRIVMSG #gap :before")
    compactions = lambda: leader.log_text().count("] snapshot at index")  # noqa: E731
    before = compactions()
    follower.signal(signal.SIGSTOP)
    try:
        for n in range(MESSAGES):  # the other two commit them; the leader compacts them away
            alice.send(f"PRIVMSG #gap :gap-{n:03d}")
            alice.expect(f"PRIVMSG #gap :gap-{n:03d}")
        # Snapshots are built in a forked child, so compaction lags a little behind the
        # entries; the second compaction after the stop began after it, past the follower.
        wait_for(lambda: compactions() >= before + 2, 10, "the leader to compact twice")
    finally:
        follower.signal(signal.SIGCONT)
    bob.expect(f"PRIVMSG #gap :gap-{MESSAGES - 1:03d}", timeout=30)
    last = sentinel(alice, "#gap", bob)  # the replay and the live stream overlap: no copy
    said = [line.rsplit(" :", 1)[1] for line in bob.lines if " PRIVMSG #gap :" in line]
    assert said == ["before", *(f"gap-{n:03d}" for n in range(MESSAGES)), last]
    wait_for(lambda: "installed the leader's snapshot" in follower.log_text(), 10, "the log line")
    alice.close()
    bob.close()
