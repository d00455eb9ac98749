"""Channel events in the history (draft/event-playback): recorded, bounded, replayed."""

from __future__ import annotations

from tests.chat.helpers import CLASSIC, Chat
from twistedchat.chat.chathistory import EVENTS_TAG
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.irc.capabilities import for_client
from twistedchat.wire.message import Message

WIDE = ("timestamp=2000-01-01T00:00:00.000Z", "timestamp=2100-01-01T00:00:00.000Z")


def ask(chat: Chat, session: str, *params: str, events: bool) -> list[Message]:
    """CHATHISTORY as the connection passes it: marked when the client has the cap."""
    tags = {EVENTS_TAG: ""} if events else {}
    inside = chat.state.query(session, Message("CHATHISTORY", params, None, tags), "srv")
    return [m for m in inside if m.command != "BATCH"]


def seen_by(deliveries: list[Delivery], session: str, command: str) -> Message:
    (message,) = [
        d.message for d in deliveries if d.session == session and d.message.command == command
    ]
    return message


def shape(replies: list[Message]) -> list[str]:
    """Command and params, as a client of the classic forms sees them."""
    shown = [for_client(m, CLASSIC) or m for m in replies]
    return [f"{m.command} {' '.join(m.params)}" for m in shown]


def busy_room() -> tuple[Chat, list[str]]:
    """#room with every kind of event between messages; the msgids carol received."""
    chat = Chat()
    chat.users("alice", "bob", "carol")
    chat.send("alice", "JOIN #room")
    chat.send("carol", "JOIN #room")
    got = [
        chat.send("bob", "JOIN #room"),
        chat.send("alice", "PRIVMSG #room :hello"),
        chat.send("alice", "TOPIC #room :news"),
        chat.send("alice", "MODE #room +m"),
        chat.send("alice", "KICK #room bob :out"),
        chat.send("alice", "NOTICE #room :bye"),
    ]
    return chat, [d.message.tags["msgid"] for ds in got for d in ds if d.session == "carol"]


def test_events_are_kept_as_delivered_in_log_order() -> None:
    chat, delivered = busy_room()
    replies = ask(chat, "carol", "LATEST", "#room", "*", "100", events=True)
    assert shape(replies) == [
        "JOIN #room",  # alice's
        "JOIN #room",  # carol's
        "JOIN #room",
        "PRIVMSG #room hello",
        "TOPIC #room news",
        "MODE #room +m",
        "KICK #room bob out",
        "NOTICE #room bye",
    ]
    assert [m.tags["msgid"] for m in replies[2:]] == delivered
    assert all(m.tags["batch"] == "history" and "time" in m.tags for m in replies)


def test_without_event_playback_only_messages_and_limit_counts_them() -> None:
    chat, _ = busy_room()
    for _ in range(5):  # events after the last message: a window full of them
        chat.send("bob", "JOIN #room")
        chat.send("bob", "PART #room")
    assert shape(ask(chat, "carol", "LATEST", "#room", "*", "2", events=False)) == [
        "PRIVMSG #room hello",
        "NOTICE #room bye",
    ]
    latest = ask(chat, "carol", "LATEST", "#room", "*", "2", events=True)
    assert shape(latest) == ["JOIN #room", "PART #room"]  # with the cap, events count


def test_an_events_msgid_is_a_reference_for_everyone() -> None:
    chat, delivered = busy_room()
    topic = delivered[2]
    assert shape(ask(chat, "carol", "AFTER", "#room", f"msgid={topic}", "10", events=False)) == [
        "NOTICE #room bye"
    ]
    assert shape(ask(chat, "carol", "BEFORE", "#room", f"msgid={topic}", "10", events=False)) == [
        "PRIVMSG #room hello"
    ]
    after = ask(chat, "carol", "AFTER", "#room", f"msgid={topic}", "10", events=True)
    assert shape(after) == ["MODE #room +m", "KICK #room bob out", "NOTICE #room bye"]


def test_quit_and_nick_are_kept_once_in_each_channel_of_their_user() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    for line in ("JOIN #a,#b", "JOIN #c"):
        chat.send("alice", line)
    chat.send("bob", "JOIN #a,#b")
    nick = seen_by(chat.send("bob", "NICK robert"), "alice", "NICK")
    quit_ = seen_by(chat.send("bob", "QUIT :gone"), "alice", "QUIT")
    for channel in ("#a", "#b"):
        events = ask(chat, "alice", "LATEST", channel, "*", "100", events=True)
        assert [m for m in events if m.command in ("NICK", "QUIT")] == [
            nick.with_tags(batch="history"),
            quit_.with_tags(batch="history"),
        ]
    assert shape(ask(chat, "alice", "LATEST", "#c", "*", "100", events=True)) == ["JOIN #c"]


def test_node_loss_quits_are_kept_too() -> None:
    chat = Chat()
    chat.users("alice")
    chat.connect("bob", "bob", node="n2")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.lose("n2")
    last = ask(chat, "alice", "LATEST", "#a", "*", "1", events=True)
    assert shape(last) == ["QUIT Node lost"] and last[0].source is not None
    assert last[0].source.startswith("bob!")


def test_targets_names_a_channel_for_its_events_only_with_the_cap() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #quiet")
    listed = ask(chat, "alice", "TARGETS", *WIDE, "10", events=True)
    assert [m.params[1] for m in listed] == ["#quiet"]
    assert ask(chat, "alice", "TARGETS", *WIDE, "10", events=False) == []


def test_events_share_the_per_conversation_cap() -> None:
    chat = Chat(ChatLimits(history_max=3))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #room")
    chat.send("alice", "PRIVMSG #room :old")
    for _ in range(2):
        chat.send("bob", "JOIN #room")
        chat.send("bob", "PART #room")
    assert ask(chat, "alice", "LATEST", "#room", "*", "10", events=False) == []
    assert len(chat.state._world.history.messages("#room")) == 3


def test_joining_many_channels_never_evicts_a_conversation_with_messages() -> None:
    chat = Chat(ChatLimits(history_conversations=2))
    chat.users("alice", "mallory")
    for channel in ("#one", "#two"):
        chat.send("alice", f"JOIN {channel}")
        chat.send("alice", f"PRIVMSG {channel} :kept")
    for i in range(5):
        chat.send("mallory", f"JOIN #flood{i}")
    assert list(chat.state._world.history.conversations) == ["#one", "#two"]
    chat.send("alice", "PRIVMSG #one :again")
    chat.send("alice", "JOIN #three")  # an event in #two does not make it recent
    chat.send("alice", "PART #two")
    chat.send("alice", "PRIVMSG #three :new")
    assert list(chat.state._world.history.conversations) == ["#one", "#three"]


def test_event_only_conversations_go_first_and_keep_their_place_in_a_snapshot() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #talk")
    chat.send("alice", "PRIVMSG #talk :hi")
    chat.send("alice", "JOIN #quiet")
    assert list(chat.state._world.history.conversations) == ["#quiet", "#talk"]
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert list(restored._world.history.conversations) == ["#quiet", "#talk"]
    assert restored.snapshot() == chat.state.snapshot()
    marked = Message("CHATHISTORY", ("LATEST", "#quiet", "*", "10"), None, {EVENTS_TAG: ""})
    assert shape(restored.query("alice", marked, "srv")[1:-1]) == ["JOIN #quiet"]


def test_private_conversations_keep_no_events() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.send("alice", "PRIVMSG bob :hi")
    chat.send("bob", "NICK robert")
    private = ask(chat, "alice", "LATEST", "bob", "*", "10", events=True)  # keyed by nick then
    assert shape(private) == ["PRIVMSG bob hi"]
    assert [key for key in chat.state._world.history.conversations if "\0" in key] == ["alice\0bob"]
