"""One node of three runs with its clock 40 days off (libfaketime): nobody's history moves,
whether that node follows or leads.

Before the log had its own clock, one line from a node 40 days ahead expired the channel's
history and the mail kept for an account on every node, and server-time ran backwards
while msgids ran forwards. Now the leader stamps every entry, never below the last
(decision 0020): the skewed node's users get the cluster's time like everyone else.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, sasl_client, wait_for
from twistedchat.chat.passwords import hash_password

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAPS = ("batch", "message-tags", "server-time", "draft/chathistory")
OPER_PASSWORD = "correct-horse"
#: libfaketime, preloaded into the node itself (the ``faketime`` program would run it as
#: a child that a signal to the program does not reach).
LIBFAKETIME = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), None)


def tag(line: str, name: str) -> str:
    tags = dict(t.split("=", 1) for t in line[1:].split(" ", 1)[0].split(";") if "=" in t)
    return tags[name]


def age_seconds(server_time: str) -> float:
    stamp = datetime.strptime(server_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return abs((datetime.now(UTC) - stamp).total_seconds())


@pytest.mark.skipif(LIBFAKETIME is None, reason="needs libfaketime (apt faketime)")
@pytest.mark.parametrize("role", ["follower", "leader"])
@pytest.mark.parametrize("offset", ["+40d", "-40d"], ids=["ahead", "behind"])
def test_a_node_with_a_skewed_clock_changes_nobodys_history_or_mail(
    cluster_factory: Callable[..., list[Node]], offset: str, role: str
) -> None:
    """The skewed node follows, or (handed leadership by an operator) leads: a leader
    stamps entries with the median of the voters' clocks, not its own."""
    nodes = cluster_factory(3, "--oper", f"root:{hash_password(OPER_PASSWORD, os.urandom(16))}")
    leader = leader_of(nodes)
    assert leader is not None
    follower = next(n for n in nodes if n is not leader)
    other = next(n for n in nodes if n not in (leader, follower))
    carol = IRCClient(leader.irc_port, "carol")
    carol.send("REGISTER * * s3cret-enough")
    carol.expect("REGISTER SUCCESS")
    carol.send("QUIT :later")
    carol.expect("ERROR ")
    carol.close()
    alice = IRCClient(leader.irc_port, "alice", caps=CAPS)
    alice.send("JOIN #room")
    alice.expect(" 366 ")
    alice.send("PRIVMSG #room :before the skew")

    # The follower restarts with its clock off and rejoins as a follower. (Killed, not
    # stopped: a node stopped gracefully leaves the cluster, and discovery, which would
    # add it again, refuses datagrams from a clock this far off.)
    follower.kill()
    assert LIBFAKETIME is not None
    clock = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": offset}
    skewed = Node(follower.data_dir, follower.irc_port, follower.peer_port, follower.status_port,
                  extra=follower.extra, env=clock)  # fmt: skip
    skewed.start()
    wait_for(lambda: (skewed.status() or {}).get("leader") == leader.node_id, 30,
             "the skewed node to follow the leader")  # fmt: skip
    mallory = IRCClient(skewed.irc_port, "mallory")
    if role == "leader":
        mallory.send(f"OPER root {OPER_PASSWORD}")
        mallory.expect(" 381 ")
        mallory.send(f"CLUSTER TRANSFER {skewed.node_id}")
        wait_for(lambda: leader_of([leader, skewed, other]) is skewed, 20, "the skewed leader")
    mallory.send("JOIN #room")
    mallory.expect(" 366 ")
    for n in range(3):
        mallory.send(f"PRIVMSG carol :mail {n} while you were away")
    mallory.send("PRIVMSG #room :from the skewed node")
    line = alice.expect("PRIVMSG #room :from the skewed node")
    assert age_seconds(tag(line, "time")) < 60, line

    alice.send("CHATHISTORY LATEST #room * 10")
    alice.expect("BATCH +")
    history = [alice.expect("PRIVMSG #room", "BATCH -") for _ in range(2)]
    assert history[0].endswith(":before the skew") and "from the skewed" in history[1]
    times = [tag(h, "time") for h in history]
    assert times == sorted(times) and all(age_seconds(t) < 60 for t in times)

    back = sasl_client(other.irc_port, "carol", "carol", "s3cret-enough")
    mails = [back.expect("PRIVMSG carol :") for _ in range(3)]
    assert [m.rsplit(":", 1)[-1] for m in mails] == [
        f"mail {n} while you were away" for n in range(3)
    ]
    for client in (alice, mallory, back):
        client.close()
    skewed.stop()
