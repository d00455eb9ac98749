"""Which channels outlive their last member (docs/decisions/0004-channel-persistence.md)."""

from __future__ import annotations

import pytest

from tests.chat.helpers import Chat, codes, to


@pytest.mark.parametrize("leave", ["PART #a", "QUIT :bye", "JOIN 0"])
def test_channel_with_only_default_state_is_dropped(leave: str) -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    chat.send("alice", "MODE #a -n+n")
    chat.send("alice", leave)
    assert chat.state.channel_count() == 0


@pytest.mark.parametrize(
    "setting",
    [
        "TOPIC #a :kept",
        "MODE #a -t",
        "MODE #a +m",
        "MODE #a +k key",
        "MODE #a +l 9",
        "MODE #a +b x",
        "MODE #a +e x",
        "MODE #a +I $a",
    ],
)
def test_channel_with_state_someone_set_is_kept_empty(setting: str) -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("alice", setting)
    chat.send("alice", "PART #a")
    assert chat.state.channel_count() == 1
    assert chat.query("bob", "LIST")[1].split()[3:5] == ["#a", "0"]


def test_kicked_last_member_leaves_a_default_channel_dropped() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    chat.send("alice", "KICK #a alice")
    assert chat.state.channel_count() == 0


def test_node_reset_empties_channels_and_keeps_their_state() -> None:
    chat = Chat()
    chat.connect("a", "alice", node="n1")
    chat.connect("b", "bob", node="n1")
    chat.send("a", "JOIN #keep,#drop")
    chat.send("a", "TOPIC #keep :a topic that lasts")
    chat.send("a", "MODE #keep +mk-t sesame")
    chat.send("a", "MODE #keep +b troll!*@*")
    chat.reset("n1")
    assert chat.state.channel_count() == 1
    chat.connect("c", "carol", node="n1")
    assert codes(chat.send("c", "JOIN #keep"), "c") == ["475"]
    out = chat.send("c", "JOIN #keep sesame")
    assert to(out, "c")[2] == ":srv 332 carol #keep :a topic that lasts"
    assert to(out, "c")[4] == ":srv 353 carol = #keep @carol"  # first joiner of an empty channel
    assert chat.query("c", "MODE #keep")[0] == ":srv 324 carol #keep +mnk sesame"
    assert chat.query("c", "MODE #keep b")[0].split()[4] == "troll!*@*"
