"""The chat state writes JOIN, NAMES, WHO and WHOIS in their richest IRCv3 forms and tells
away changes and new realnames; connections cut each down per client (capabilities)."""

from __future__ import annotations

from tests.chat.helpers import Chat, parse
from twistedchat.chat.command import OPER, REGISTER
from twistedchat.chat.delivery import Broadcast, Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message


def sent(chat: Chat, session: str, line: str) -> list[tuple[str, Message]]:
    return [(d.session, d.message) for d in chat.send(session, line) if not d.echo]


def room() -> Chat:
    chat = Chat()
    chat.users("op", "bob", "carol")
    for nick in ("op", "bob", "carol"):
        chat.send(nick, "JOIN #a")
    chat.send("op", "MODE #a +v op")
    return chat


def test_join_carries_account_and_realname() -> None:
    chat = room()
    chat.users("dave")
    chat.internal("dave", REGISTER, "dave", "scrypt$00$11")  # registering logs in
    joins = [m for _, m in sent(chat, "dave", "JOIN #a") if m.command == "JOIN"]
    assert {m.params for m in joins} == {("#a", "dave", "Real dave")}
    chat.users("eve")
    (join, *_) = [m for _, m in sent(chat, "eve", "JOIN #a") if m.command == "JOIN"]
    assert join.params == ("#a", "*", "Real eve")  # not logged in


def test_names_who_and_whois_list_every_prefix_and_the_full_mask() -> None:
    chat = room()
    (names, _) = chat.state.query("bob", parse("NAMES #a"), "srv")
    assert names.params[-1] == "@+op!~op@host bob!~bob@host carol!~carol@host"
    who = chat.state.query("bob", parse("WHO #a"), "srv")
    assert [m.params[6] for m in who[:-1]] == ["H@+", "H", "H"]
    whois = chat.state.query("bob", parse("WHOIS op"), "srv")
    assert [m.params[-1] for m in whois if m.command == "319"] == ["@+#a"]


def test_who_flags_an_operator_and_an_away_user() -> None:
    chat = room()
    chat.internal("op", OPER, "root")
    chat.send("op", "AWAY :lunch")
    who = chat.state.query("bob", parse("WHO op"), "srv")
    assert who[0].params[6] == "G*"  # WHO of a nick: no channel, so no channel prefix
    rows = chat.state.query("bob", parse("WHO #a"), "srv")[:-1]
    (row,) = [m for m in rows if m.params[5] == "op"]
    assert row.params[6] == "G*@+"


def test_away_changes_are_told_to_those_sharing_a_channel() -> None:
    chat = room()
    chat.users("stranger")
    out = sent(chat, "bob", "AWAY :gone fishing")
    aways = [(s, m.params) for s, m in out if m.command == "AWAY"]
    assert aways == [("op", ("gone fishing",)), ("carol", ("gone fishing",))]
    assert [m.command for s, m in out if s == "bob"] == ["306"]
    out = sent(chat, "bob", "AWAY")
    assert [(s, m.params) for s, m in out if m.command == "AWAY"] == [("op", ()), ("carol", ())]


def test_an_away_user_joining_is_told_away_after_the_join() -> None:
    chat = room()
    chat.users("dave")
    chat.send("dave", "AWAY :brb")
    out = sent(chat, "dave", "JOIN #a")
    to_op = [m.command for s, m in out if s == "op"]
    assert to_op == ["JOIN", "AWAY"]
    assert [m.command for s, m in out if s == "dave"][:1] == ["JOIN"]  # not told of itself
    assert "AWAY" not in [m.command for s, m in out if s == "dave"]


def test_setname_changes_the_realname_and_tells_the_user_and_peers() -> None:
    chat = room()
    out = sent(chat, "bob", "SETNAME :Robert the Bold")
    assert [(s, m.params) for s, m in out] == [
        ("op", ("Robert the Bold",)),
        ("carol", ("Robert the Bold",)),
        ("bob", ("Robert the Bold",)),
    ]
    assert all(m.command == "SETNAME" and m.source == "bob!~bob@host" for _, m in out)
    (who, _) = chat.state.query("carol", parse("WHO bob"), "srv")
    assert who.params[-1] == "0 Robert the Bold"


def test_setname_refuses_an_empty_or_too_long_realname() -> None:
    chat = Chat(ChatLimits(namelen=10))
    chat.users("bob")
    for line in ("SETNAME :", "SETNAME :" + "x" * 11, "SETNAME"):
        ((session, fail),) = sent(chat, "bob", line)
        assert session == "bob" and fail.params[:2] == ("SETNAME", "INVALID_REALNAME")
    (who, _) = chat.state.query("bob", parse("WHO bob"), "srv")
    assert who.params[-1] == "0 Real bob"


def test_a_realname_longer_than_namelen_is_cut_at_registration() -> None:
    chat = Chat(ChatLimits(namelen=8))
    chat.connect("bob", "bob")  # realname "Real bob", 8 bytes: kept
    chat.connect("amy", "amy", user="amy")
    chat.state.query("bob", parse("WHO bob"), "srv")
    (who, _) = chat.state.query("amy", parse("WHO amy"), "srv")
    assert who.params[-1] == "0 Real amy"[: 2 + 8]


def test_bot_mode_shows_in_whois_who_mode_and_a_tag_and_survives_a_snapshot() -> None:
    chat = room()
    out = chat.send("bob", "MODE bob +B")
    assert [d.message.params for d in out] == [("bob", "+B")]
    whois = chat.state.query("carol", parse("WHOIS bob"), "srv")
    assert any(m.command == "335" and m.params[1:] == ("bob", "is a bot") for m in whois)
    (who, _) = chat.state.query("carol", parse("WHO bob"), "srv")
    assert who.params[6] == "HB"
    said = [d.message for d in chat.send("bob", "PRIVMSG #a :beep") if d.session == "carol"]
    assert said[0].tags["bot"] == ""
    assert chat.state.query("bob", parse("MODE bob"), "srv")[0].params[-1] == "+B"
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    (again, _) = restored.query("carol", parse("WHO bob"), "srv")
    assert again.params[6] == "HB"
    chat.send("bob", "MODE bob -B")
    (who, _) = chat.state.query("carol", parse("WHO bob"), "srv")
    assert who.params[6] == "H"


def test_an_invitation_is_told_to_members_with_invite_notify_only() -> None:
    chat = room()
    chat.users("dave")
    chat.send("op", "INVITE dave #a")
    assert chat.applied is not None
    invitation, notice = [d for d in chat.applied.deliveries if d.message.command == "INVITE"]
    assert isinstance(invitation, Delivery) and isinstance(notice, Broadcast)
    assert invitation.session == "dave" and invitation.needs is None
    assert notice.audience == ("op", "bob", "carol") and notice.skip == "op"
    assert notice.needs == "invite-notify" and notice.message is invitation.message
