"""Snapshot details the generated workloads are unlikely to pin down."""

from __future__ import annotations

import json

import pytest

from tests.chat.helpers import Chat, codes
from twistedchat.chat.command import NODE_RESET, SERVER_TAG, WEB_TAG
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.snapshot import SnapshotError
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message


def test_ended_sessions_keep_their_eviction_order_across_restore() -> None:
    limits = ChatLimits(session_records=2)
    chat = Chat(limits)
    chat.connect("zz", "1bad")
    chat.connect("aa", "1bad")
    chat.state = ChatState.restore(chat.state.snapshot(), limits)
    chat.connect("mm", "1bad")
    assert [chat.state.last_applied_seq(s) for s in ("zz", "aa", "mm")] == [0, 1, 1]


def test_restored_state_keeps_users_channels_and_invites() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.send("op", "JOIN #a")
    chat.send("op", "MODE #a +i")
    chat.send("op", "INVITE bob #a")
    chat.send("bob", "AWAY :away")
    chat.state = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert chat.state.nick_in_use("BOB") and chat.state.sessions_of_node("n1") == ["op", "bob"]
    assert codes(chat.send("op", "PRIVMSG bob :hi"), "op") == ["301"]
    assert codes(chat.send("bob", "JOIN #a"), "bob")[0] == "JOIN"


def test_snapshot_is_versioned_json() -> None:
    data = ChatState().snapshot()
    assert json.loads(data)["version"] == 1
    with pytest.raises(SnapshotError):
        ChatState.restore(b'{"version": 99}', ChatLimits())


def test_a_nodes_sessions_keep_their_order_across_restore_moves_included() -> None:
    """Restarts and losses end a node's sessions in this order (their QUITs, WHOWAS and
    ended records): a restored replica must keep the one the others have (found by the
    chaos suite: three sessions moved onto one node, then the node restarted)."""
    chat = Chat()
    for nick in ("six", "seven", "eight"):
        chat.connect(nick, nick, node="a")
    world = chat.state._world
    for nick in ("seven", "eight", "six"):
        world.move_user(world.users[nick], "b")
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert restored.sessions_of_node("b") == chat.state.sessions_of_node("b")
    assert restored.sessions_of_node("b") == ["seven", "eight", "six"]


def test_a_nodes_web_endpoint_comes_from_its_reset_and_survives_restore() -> None:
    chat = Chat()
    session = "w/boot1/node"
    tags = {SERVER_TAG: "irc.w", WEB_TAG: "ws://127.0.0.1:8080/"}
    chat.apply(chat.command(session, Message(NODE_RESET, ("127.0.0.1:6667",), None, tags), "w"))
    chat.reset("plain", "127.0.0.1:6668")  # a node without --websocket
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    for state in (chat.state, restored):
        assert state.node_web("w") == "ws://127.0.0.1:8080/"
        assert state.node_web("plain") == "" and state.node_web("unknown") == ""
    chat.apply(chat.command("w/boot2/node", Message(NODE_RESET, ("127.0.0.1:6667",)), "w"))
    assert chat.state.node_web("w") == ""  # restarted without it
