"""REDACT (IRCv3 draft/message-redaction): who may, what it sends, and what history keeps."""

from __future__ import annotations

import json

from tests.chat.helpers import Chat, room, show
from twistedchat.chat.command import LOGIN, OPER, REGISTER
from twistedchat.chat.delivery import Broadcast, Delivery
from twistedchat.chat.history import REDACTED
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.redaction import CAPABILITY
from twistedchat.chat.state import ChatState
from twistedchat.irc.rendering import Rendering, view_for
from twistedchat.wire.message import Message

HASH = "scrypt$00$11"
EVER = ("timestamp=2000-01-01T00:00:00.000Z", "timestamp=2100-01-01T00:00:00.000Z")


def say(chat: Chat, session: str, line: str) -> str:
    """Send ``line``; returns the msgid of the message it sent."""
    chat.send(session, line)
    assert chat.applied is not None
    (echo,) = [d for d in chat.applied.deliveries if isinstance(d, Delivery) and d.echo]
    return echo.message.tags["msgid"]


def history(chat: Chat, session: str, target: str, *, events: bool = False) -> list[str]:
    """The texts (or commands, for events) CHATHISTORY LATEST gives ``session``."""
    tags = {"twistedchat.org/event-playback": ""} if events else {}
    query = Message("CHATHISTORY", ("LATEST", target, "*", "50"), None, tags)
    replies = chat.state.query(session, query, "srv")[1:-1]
    return [m.params[-1] if m.command in ("PRIVMSG", "NOTICE") else m.command for m in replies]


def replies(chat: Chat, session: str) -> list[str]:
    """What the last entry sent ``session`` itself (not echoes, not broadcasts)."""
    assert chat.applied is not None
    return [
        show(d.message)
        for d in chat.applied.deliveries
        if isinstance(d, Delivery) and d.session == session and not d.echo
    ]


def redactions(chat: Chat) -> tuple[list[Broadcast], list[Delivery]]:
    """The REDACT records of the last entry: (broadcasts, echoes)."""
    assert chat.applied is not None
    records = [d for d in chat.applied.deliveries if d.message.command == "REDACT"]
    broadcasts = [d for d in records if isinstance(d, Broadcast)]
    echoes = [d for d in records if isinstance(d, Delivery) and d.echo]
    assert len(broadcasts) + len(echoes) == len(records)  # nothing else says REDACT
    return broadcasts, echoes


def test_the_sender_redacts_its_channel_message_for_members_with_the_capability() -> None:
    chat = room()
    say(chat, "bob", "PRIVMSG #a :before")
    msgid = say(chat, "bob", "PRIVMSG #a :oops, wrong window")
    say(chat, "carol", "PRIVMSG #a :after")
    chat.send("bob", f"REDACT #a {msgid} :wrong window")
    (notice,), (echo,) = redactions(chat)
    assert notice.audience == ("op", "bob", "carol") and notice.skip == "bob"
    assert notice.needs == CAPABILITY and echo.needs == CAPABILITY
    assert echo.session == "bob" and echo.message is notice.message
    assert show(notice.message) == f":bob!~bob@host REDACT #a {msgid} :wrong window"
    # a client with the capability gets the line; one without gets nothing at all
    rendering = Rendering(notice.message, "srv", notice.needs)
    line = rendering.bytes_for(view_for({CAPABILITY}))
    assert line == f":bob!~bob@host REDACT #a {msgid} :wrong window\r\n".encode()
    assert rendering.bytes_for(view_for({"message-tags", "echo-message"})) is None
    assert history(chat, "carol", "#a") == ["before", "after"]
    assert history(chat, "carol", "#a", events=True) == ["JOIN"] * 3 + ["before", "after"]


def test_a_channel_operator_redacts_anyones_message_and_a_member_only_its_own() -> None:
    chat = room()
    chat.send("op", "MODE #a +v carol")  # voice is no privilege here
    msgid = say(chat, "bob", "PRIVMSG #a :buy cheap watches")
    chat.send("carol", f"REDACT #a {msgid} :spam")
    assert replies(chat, "carol") == [
        f":srv FAIL REDACT REDACT_FORBIDDEN #a {msgid} "
        ":You are not authorised to delete this message"
    ]
    assert redactions(chat) == ([], [])
    assert history(chat, "carol", "#a") == ["buy cheap watches"]
    chat.send("op", f"REDACT #A {msgid} spam")  # the channel's name as it is, in the REDACT
    (notice,), (echo,) = redactions(chat)
    assert show(notice.message) == f":op!~op@host REDACT #a {msgid} spam"
    assert notice.audience == ("op", "bob", "carol") and echo.session == "op"
    assert history(chat, "carol", "#a") == []


def test_the_reason_is_optional() -> None:
    chat = room()
    msgid = say(chat, "bob", "NOTICE #a :hi")
    chat.send("bob", f"REDACT #a {msgid}")
    (notice,), _ = redactions(chat)
    assert notice.message.params == ("#a", msgid)
    assert "time" in notice.message.tags and "msgid" in notice.message.tags
    msgid = say(chat, "bob", "PRIVMSG #a :again")
    chat.send("bob", f"REDACT #a {msgid} :")  # an empty reason is none
    (notice,), _ = redactions(chat)
    assert notice.message.params == ("#a", msgid)


def test_unknown_already_redacted_and_non_message_msgids() -> None:
    chat = room()
    assert chat.applied is not None
    (join,) = [d for d in chat.applied.deliveries if d.message.command == "JOIN"]
    chat.send("op", "REDACT #a 999-1")
    unknown = ":This message does not exist or is too old"
    assert replies(chat, "op") == [f":srv FAIL REDACT UNKNOWN_MSGID #a 999-1 {unknown}"]
    msgid = say(chat, "bob", "PRIVMSG #a :once")
    chat.send("bob", f"REDACT #a {msgid}")
    chat.send("op", f"REDACT #a {msgid}")
    assert replies(chat, "op") == [f":srv FAIL REDACT UNKNOWN_MSGID #a {msgid} {unknown}"]
    join_id = join.message.tags["msgid"]  # carol's JOIN, a channel event
    chat.send("op", f"REDACT #a {join_id}")
    assert replies(chat, "op") == [
        f":srv FAIL REDACT REDACT_FORBIDDEN #a {join_id} :Only messages can be deleted"
    ]
    tag_id = say(chat, "bob", "TAGMSG #a")  # no text: TAGMSG never enters history
    chat.send("bob", f"REDACT #a {tag_id}")
    assert replies(chat, "bob") == [f":srv FAIL REDACT UNKNOWN_MSGID #a {tag_id} {unknown}"]
    chat.send("bob", "REDACT #a")
    assert replies(chat, "bob") == [":srv 461 bob REDACT :Not enough parameters"]


def test_targets_one_may_not_read_are_invalid_but_irc_operators_may_redact_anywhere() -> None:
    chat = room()
    msgid = say(chat, "bob", "PRIVMSG #a :hello")
    invalid = ":You cannot delete messages from"
    chat.send("dave", f"REDACT #a {msgid}")  # not a member: no probing of its msgids
    assert replies(chat, "dave") == [f":srv FAIL REDACT INVALID_TARGET #a {invalid} #a"]
    chat.send("dave", f"REDACT #nowhere {msgid}")
    assert replies(chat, "dave") == [f":srv FAIL REDACT INVALID_TARGET #nowhere {invalid} #nowhere"]
    chat.send("op", f"REDACT @#a {msgid}")  # STATUSMSG messages are not kept
    assert replies(chat, "op") == [f":srv FAIL REDACT INVALID_TARGET @#a {invalid} @#a"]
    chat.internal("dave", OPER, "root")
    chat.send("dave", f"REDACT #a {msgid} :cleanup")
    (notice,), (echo,) = redactions(chat)
    assert notice.audience == ("op", "bob", "carol") and notice.skip == "dave"
    assert echo.session == "dave"
    assert history(chat, "bob", "#a") == []


def test_a_private_message_is_redacted_for_both_sides_by_its_sender_only() -> None:
    chat = room()
    msgid = say(chat, "bob", "PRIVMSG carol :secret")
    chat.send("carol", f"REDACT bob {msgid}")  # the recipient may not
    assert replies(chat, "carol")[0].startswith(":srv FAIL REDACT REDACT_FORBIDDEN bob ")
    chat.send("dave", f"REDACT bob {msgid}")  # not their conversation: nothing there
    assert replies(chat, "dave")[0].startswith(":srv FAIL REDACT UNKNOWN_MSGID bob ")
    chat.send("bob", f"REDACT carol {msgid} :oops")
    (notice,), (echo,) = redactions(chat)
    assert notice.audience == ("bob", "carol") and notice.skip == "bob"
    assert notice.needs == CAPABILITY and echo.session == "bob"
    assert show(notice.message) == f":bob!~bob@host REDACT carol {msgid} oops"
    assert history(chat, "carol", "bob") == []
    assert history(chat, "bob", "carol") == []


def test_an_irc_operator_may_redact_in_its_own_private_conversations() -> None:
    chat = room()
    chat.internal("op", OPER, "root")
    msgid = say(chat, "bob", "PRIVMSG op :abuse")
    chat.send("op", f"REDACT bob {msgid}")
    (notice,), _ = redactions(chat)
    assert notice.audience == ("bob", "op")  # both sides, in the conversation's order
    assert history(chat, "bob", "op") == []


def test_the_sender_is_its_session_or_its_account_not_its_nick() -> None:
    chat = room()
    chat.internal("bob", REGISTER, "bob", HASH)  # registering logs in
    msgid = say(chat, "bob", "PRIVMSG #a :as bob")
    chat.connect("phone", "bobby", account="bob")  # the same account, another session
    chat.send("phone", "JOIN #a")
    chat.send("phone", f"REDACT #a {msgid}")
    assert redactions(chat)[0], replies(chat, "phone")
    # not logged in: the session alone is the sender, not whoever has the nick later
    guest_id = say(chat, "carol", "PRIVMSG #a :as carol")
    chat.send("carol", "QUIT :bye")
    chat.connect("carol-again", "carol")  # a new session with the same nick
    chat.send("carol-again", "JOIN #a")
    chat.send("carol-again", f"REDACT #a {guest_id}")
    assert replies(chat, "carol-again")[0].startswith(":srv FAIL REDACT REDACT_FORBIDDEN #a ")
    # a session that logs in after sending is still the sender; its account is not
    chat.send("dave", "JOIN #a")
    early = say(chat, "dave", "PRIVMSG #a :before logging in")
    later = say(chat, "dave", "PRIVMSG #a :also before")
    chat.internal("dave", REGISTER, "dave", HASH)
    chat.send("dave", f"REDACT #a {early}")
    assert redactions(chat)[0], replies(chat, "dave")
    chat.users("tablet")
    chat.internal("tablet", LOGIN, "dave")
    chat.send("tablet", "JOIN #a")
    chat.send("tablet", f"REDACT #a {later}")
    assert replies(chat, "tablet")[0].startswith(":srv FAIL REDACT REDACT_FORBIDDEN #a ")


def test_mail_waiting_for_an_offline_account_is_withdrawn() -> None:
    chat = room()
    chat.users("alice")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.send("alice", "QUIT :bye")
    kept = say(chat, "bob", "PRIVMSG alice :first")
    redacted = say(chat, "bob", "PRIVMSG alice :second thoughts")
    chat.send("bob", f"REDACT alice {redacted}")
    assert redactions(chat)[1] and not redactions(chat)[0]  # no one of alice's is online
    out = chat.connect("back", "alice", account="alice")
    mail = [d.message for d in out if d.message.command == "PRIVMSG"]
    assert [m.tags["msgid"] for m in mail] == [kept]
    assert history(chat, "back", "bob") == ["first"]


def test_event_playback_and_later_references_skip_the_tombstone() -> None:
    chat = room()
    first = say(chat, "bob", "PRIVMSG #a :one")
    gone = say(chat, "bob", "PRIVMSG #a :two")
    say(chat, "bob", "PRIVMSG #a :three")
    chat.send("bob", f"REDACT #a {gone}")
    # a client that last saw the redacted message can still ask for what came after it
    after = chat.state.query(
        "carol", Message("CHATHISTORY", ("AFTER", "#a", f"msgid={gone}", "5")), "srv"
    )
    assert [m.params[-1] for m in after[1:-1]] == ["three"]
    around = Message("CHATHISTORY", ("AROUND", "#a", f"msgid={first}", "2"))
    assert [m.params[-1] for m in chat.state.query("carol", around, "srv")[1:-1]] == [
        "one",
        "three",
    ]
    targets = chat.state.query("carol", Message("CHATHISTORY", ("TARGETS", *EVER, "5")), "srv")
    assert [m.params[1] for m in targets[1:-1]] == ["#a"]
    stored = chat.state._world.history.messages("#a")
    (tombstone,) = [s for s in stored if s.is_redacted]
    assert tombstone.message == Message(REDACTED, (), None, {"msgid": gone})  # no text kept


def test_replicas_agree_and_a_snapshot_keeps_tombstones_and_senders() -> None:
    chat = room()
    first = say(chat, "bob", "PRIVMSG #a :one")
    second = say(chat, "bob", "PRIVMSG carol :two")
    chat.send("op", f"REDACT #a {first} :gone")
    replica = ChatState(ChatLimits())
    fresh = ChatState(ChatLimits())
    for index, command in chat.log:
        assert replica.apply(index, command) == fresh.apply(index, command)
    assert replica.snapshot() == fresh.snapshot()
    restored = ChatState.restore(fresh.snapshot(), ChatLimits())
    assert restored.snapshot() == fresh.snapshot()
    chat.state = restored
    assert history(chat, "carol", "#a") == []
    chat.send("bob", f"REDACT carol {second}")  # bob is still known as its sender
    assert redactions(chat)[0], replies(chat, "bob")
    again = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert again.snapshot() == chat.state.snapshot()


def test_a_snapshot_from_before_redaction_loads_and_its_messages_are_moderated_only() -> None:
    chat = room()
    msgid = say(chat, "bob", "PRIVMSG #a :old")
    doc = json.loads(chat.state.snapshot())
    for _key, stored in doc["history"]:
        for row in stored:
            del row[5:]  # older snapshots kept no sender
    chat.state = ChatState.restore(json.dumps(doc).encode(), ChatLimits())
    assert history(chat, "carol", "#a") == ["old"]
    chat.send("bob", f"REDACT #a {msgid}")  # not logged in: its sender is unknown now
    assert replies(chat, "bob")[0].startswith(":srv FAIL REDACT REDACT_FORBIDDEN #a ")
    chat.send("op", f"REDACT #a {msgid}")
    assert redactions(chat)[0]
    assert history(chat, "carol", "#a") == []
