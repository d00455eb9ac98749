"""Replay on reclaim: a session taken back from a node marked down is sent what it missed."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import CONNECT, NODE_DOWN, NODE_UP, REGISTER
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

HASH = "scrypt$00$11"


def alice_on_n1(limits: ChatLimits | None = None) -> Chat:
    """alice (account alice) on n1 and bob on n2, both in #a."""
    chat = Chat(limits)
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.connect("bob", "bob", node="n2")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    return chat


def mark(chat: Chat, verb: str, *params: str) -> list[Delivery]:
    """The leader (on n2) reports on a node."""
    session = f"n2/boot{chat.index}/node"
    return chat.apply(chat.command(session, Message(verb, params), "n2"))


def reclaim(chat: Chat, node: str = "n3") -> list[Delivery]:
    """A plain client logged in to alice by SASL connects to ``node``."""
    return chat.connect("back", "alice", node=node, account="alice")


def replayed(deliveries: list[Delivery]) -> list[str]:
    return [d.message.params[-1] for d in deliveries if d.session == "back" and d.separate]


def test_what_was_said_after_the_node_went_down_is_replayed_once_in_log_order() -> None:
    chat = alice_on_n1()
    chat.send("bob", "PRIVMSG #a :seen")
    mark(chat, NODE_DOWN, "n1", str(chat.index))  # n1 had handed out "seen"
    chat.send("bob", "PRIVMSG #a :one")
    chat.send("bob", "PRIVMSG alice :psst")
    chat.send("bob", "NOTICE #a :two")
    out = reclaim(chat)
    lines = replayed(out)
    assert lines[0].startswith("*** Replaying 3 lines you missed (since ")
    assert lines[1:] == ["one", "psst", "two"]
    answer = [d.message.command for d in out if d.session == "back" and not d.separate]
    assert answer == ["JOIN", "RESUME"]  # the welcome and channel state come first
    assert chat.state.session_node("alice") == "n3"


def test_replayed_lines_keep_their_source_time_and_msgid() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    sent = chat.send("bob", "PRIVMSG #a :one")
    (live,) = [d.message for d in sent if d.session == "alice"]
    (again,) = [d.message for d in reclaim(chat) if d.message.command == "PRIVMSG"]
    assert again == live and again.source == "bob!~bob@host"


def test_the_old_connections_own_late_lines_are_replayed_as_echoes() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    chat.send("alice", "PRIVMSG #a :my last words")  # committed after n1 went quiet
    out = reclaim(chat)
    (own,) = [d for d in out if d.message.command == "PRIVMSG"]
    assert own.echo and own.separate  # shown only to clients with echo-message


def test_nothing_is_replayed_from_a_node_that_is_not_marked_down() -> None:
    chat = alice_on_n1()
    chat.send("bob", "PRIVMSG #a :one")
    assert replayed(reclaim(chat)) == []


def test_a_node_heard_again_or_restarted_is_no_longer_down() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    assert chat.state.node_down_at("n1") == chat.index - 1
    mark(chat, NODE_UP, "n1")
    assert chat.state.node_down_at("n1") == 0
    mark(chat, NODE_DOWN, "n1", "7")
    chat.reset("n1")
    assert chat.state.node_down_at("n1") == 0
    assert chat.state.node_down_at("nowhere") is None


def test_the_first_down_report_counts_and_bad_ones_are_ignored() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", "5")
    mark(chat, NODE_DOWN, "n1", "9")  # a retry of a report, or a later leader's
    mark(chat, NODE_DOWN, "n2", "x")
    mark(chat, NODE_DOWN, "nowhere", "3")
    assert chat.state.node_down_at("n1") == 5
    assert chat.state.node_down_at("n2") == 0
    assert chat.state.node_down_at("nowhere") is None


def test_a_long_absence_replays_the_latest_lines_and_says_it_was_cut() -> None:
    chat = alice_on_n1(ChatLimits(replay_lines=2))
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    for text in ("one", "two", "three"):
        chat.send("bob", f"PRIVMSG #a :{text}")
    lines = replayed(reclaim(chat))
    assert "the last 2 of the 3 lines" in lines[0] and "CHATHISTORY" in lines[0]
    assert lines[1:] == ["two", "three"]


def test_redacted_lines_and_lines_to_another_client_of_the_account_are_not_replayed() -> None:
    chat = alice_on_n1()
    chat.connect("phone", "alice_phone", node="n2", account="alice")
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    sent = chat.send("bob", "PRIVMSG #a :oops")
    msgid = next(d.message.tags["msgid"] for d in sent if d.session == "alice")
    chat.send("bob", f"REDACT #a {msgid}")
    chat.send("bob", "PRIVMSG alice_phone :for the phone")
    chat.send("bob", "PRIVMSG alice :for alice")
    assert replayed(reclaim(chat))[1:] == ["for alice"]


def test_channel_events_are_not_replayed() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    chat.users("carol")
    chat.send("carol", "JOIN #a")
    chat.send("carol", "PART #a")
    chat.send("bob", "TOPIC #a :new")
    assert replayed(reclaim(chat)) == []


def test_a_reclaim_waits_only_for_a_session_on_another_node_not_yet_marked_down() -> None:
    chat = alice_on_n1()
    connect = Message(CONNECT, ("alice", "~alice", "host", "Alice", "alice"))
    assert chat.state.reclaim_waits(connect, "n3")
    assert not chat.state.reclaim_waits(connect, "n1")  # its own node knows
    stranger = Message(CONNECT, ("alice", "~alice", "host", "Alice", "mallory"))
    assert not chat.state.reclaim_waits(stranger, "n3")  # no reclaim at all: 433
    assert not chat.state.reclaim_waits(Message(CONNECT, ("zed", "~z", "h", "Z")), "n3")
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    assert not chat.state.reclaim_waits(connect, "n3")


def test_a_down_mark_survives_a_snapshot() -> None:
    chat = alice_on_n1()
    chat.send("bob", "PRIVMSG #a :seen")
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    handed_out = chat.index - 1
    chat.send("bob", "PRIVMSG #a :missed")
    chat.state = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert chat.state.node_down_at("n1") == handed_out
    assert replayed(reclaim(chat))[1:] == ["missed"]


def test_a_second_reclaim_from_a_live_node_replays_nothing_again() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", str(chat.index))
    chat.send("bob", "PRIVMSG #a :one")
    assert codes(reclaim(chat), "back")[-1] == "PRIVMSG"
    again = chat.connect("again", "alice", node="n2", account="alice")
    assert [d for d in again if d.session == "again" and d.separate] == []
    assert to(again, "again")[-1].endswith("RESUME SUCCESS alice")


def test_a_node_marked_down_at_an_unknown_point_is_reclaimed_without_replay_but_told() -> None:
    chat = alice_on_n1()
    mark(chat, NODE_DOWN, "n1", "0")  # a new leader that never heard from n1
    chat.send("bob", "PRIVMSG #a :said meanwhile")
    assert not chat.state.reclaim_waits(
        Message(CONNECT, ("alice", "~alice", "host", "Alice", "alice")), "n3"
    )  # it is down all the same: no need to wait
    lines = replayed(reclaim(chat))
    assert len(lines) == 1 and "cannot tell exactly" in lines[0] and "CHATHISTORY" in lines[0]
