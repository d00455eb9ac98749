"""One node's clock cannot rewrite the history: time is the log's (decision 0020).

Two nodes on one memory log, which stamps entries with the first node's clock as a
leader would; the second node's clock is 40 days ahead or behind.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from tests.memorylog import MemoryLog, Server
from twistedchat.wire.grammar import parse_line

DAY = 86_400
CAPS = ("batch", "labeled-response", "message-tags", "server-time", "draft/chathistory")


def skewed_pair(offset_days: int) -> tuple[Server, Server]:
    log = MemoryLog()
    leader_clock, skewed_clock = Clock(), Clock()
    leader_clock.advance(1_700_000_000)
    skewed_clock.advance(1_700_000_000 + offset_days * DAY)
    return Server("n1", log, leader_clock), Server("n2", log, skewed_clock)


@pytest.mark.parametrize("offset_days", [40, -40], ids=["ahead", "behind"])
def test_a_node_with_a_skewed_clock_neither_expires_history_nor_sends_time_back(
    offset_days: int,
) -> None:
    leader, skewed = skewed_pair(offset_days)
    alice = leader.register("alice", CAPS)
    mallory = skewed.register("mallory", CAPS)
    alice.send("JOIN #room", "PRIVMSG #room :before")
    mallory.send("JOIN #room", "PRIVMSG #room :from the skewed node")
    alice.send("PRIVMSG #room :after")
    alice.clear()
    alice.send("CHATHISTORY LATEST #room * 10")
    lines = [parse_line(line.encode()) for line in alice.lines()]
    said = [(m.params[1], m.tags["time"]) for m in lines if m.command == "PRIVMSG"]
    assert [text for text, _ in said] == ["before", "from the skewed node", "after"]
    times = [time for _, time in said]
    assert times == sorted(times) and times[0].startswith("2023-11-14T22:13")
    assert times[-1].startswith("2023-11-14T22:13")  # the leader's day, not 40 days off
