"""A login storm on the leader costs neither leadership nor anyone's messages (issue 15).

16 connections each send one wrong SASL PLAIN a second, all at once, for 6 s, against
enough accounts that none is throttled: every attempt is an scrypt check on the leader.
Hashed on the reactor thread that is ~16 checks back to back each second, longer than
the election timeout; in the pool, the reactor keeps serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, leader_of
from tests.integration.login_storm import Chatter, Storm, register_accounts

CONNECTIONS = 16
#: 15 election timeouts (400 ms): a reactor the checks block loses the lead long before.
SECONDS = 6
#: Enough that no account reaches the throttle's 5 failures within the attack.
ACCOUNTS = 48


def terms_and_leaders(nodes: list[Node]) -> dict[str, tuple[int, str | None]]:
    statuses = {node.node_id: node.status() for node in nodes}
    assert all(statuses.values()), statuses
    return {node: (s["term"], s["leader"]) for node, s in statuses.items() if s is not None}


def test_a_login_storm_on_the_leader_moves_no_leader_and_loses_no_line(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    leader = leader_of(nodes)
    assert leader is not None
    helper, watcher_node = [node for node in nodes if node is not leader]
    accounts = [f"acct{n}" for n in range(ACCOUNTS)]
    register_accounts(helper.irc_port, accounts)
    listener = IRCClient(watcher_node.irc_port, "listener")
    listener.send("JOIN #storm")
    listener.expect(" 366 listener #storm ")
    before = terms_and_leaders(nodes)

    chatter = Chatter(leader.irc_port, "talker", "#storm", period=0.5)  # flood limit: 2/s
    storm = Storm(leader.irc_port, accounts, CONNECTIONS)
    chatter.start()
    storm.start()
    time.sleep(SECONDS)
    storm.stop()
    chatter.finish()

    assert terms_and_leaders(nodes) == before
    assert storm.attempts >= CONNECTIONS * SECONDS
    answered = sum(storm.replies.values())
    assert answered >= storm.attempts - CONNECTIONS, storm.replies  # all but the last round
    assert storm.replies["SASL authentication failed"] >= answered * 0.9, storm.replies
    assert chatter.unanswered() == 0
    last = f" PRIVMSG #storm :line {chatter.sent}"
    listener.expect(last)
    said = [line.rsplit(" ", 1)[1] for line in listener.lines if " PRIVMSG #storm :line " in line]
    assert said == [str(n) for n in range(1, chatter.sent + 1)]
    listener.close()
