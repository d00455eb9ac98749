"""PRIVMSG, NOTICE and TAGMSG: targets, checks, echo, and the tags every copy carries."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, parse, recipients, to
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.outbox import server_time
from twistedchat.wire.message import Message


def make(limits: ChatLimits | None = None) -> Chat:
    chat = Chat(limits)
    chat.users("alice", "bob", "carol")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    return chat


def test_channel_message_goes_to_other_members_and_echoes_to_sender() -> None:
    chat = make()
    out = chat.send("alice", "PRIVMSG #A :hello there")
    assert [(d.session, d.echo) for d in out] == [("bob", False), ("alice", True)]
    assert to(out, "bob") == [":alice!~alice@host PRIVMSG #a :hello there"]
    assert to(out, "alice", echo=True) == to(out, "bob")


def test_every_copy_carries_time_and_the_same_msgid() -> None:
    chat = make()
    out = chat.send("alice", "PRIVMSG #a :tagged")
    tags = [dict(d.message.tags) for d in out]
    assert tags[0] == tags[1]
    assert tags[0] == {"time": server_time(chat.time), "msgid": f"{chat.index:x}-1"}
    assert "account" not in tags[0]


def test_server_time_format() -> None:
    assert server_time(1_795_491_080_123) == "2026-11-24T03:31:20.123Z"
    assert server_time(5) == "1970-01-01T00:00:00.005Z"


def test_several_targets_each_get_their_own_message_and_msgid() -> None:
    chat = make()
    out = chat.send("alice", "PRIVMSG #a,carol,nobody,#none :hi")
    assert recipients(out, "PRIVMSG") == ["bob", "carol"]
    assert to(out, "carol") == [":alice!~alice@host PRIVMSG carol hi"]
    assert to(out, "alice") == [
        ":srv 401 alice nobody :No such nick/channel",
        ":srv 401 alice #none :No such nick/channel",
    ]
    ids = {d.message.tags["msgid"] for d in out if d.message.command == "PRIVMSG"}
    assert ids == {f"{chat.index:x}-1", f"{chat.index:x}-2"}
    assert len(to(out, "alice", echo=True)) == 2


def test_duplicate_targets_are_sent_once() -> None:
    chat = make()
    out = chat.send("alice", "PRIVMSG carol,CAROL :once")
    assert recipients(out, "PRIVMSG") == ["carol"]


def test_targets_beyond_targmax_get_407_for_privmsg_only() -> None:
    chat = make(ChatLimits(targmax=1))
    out = chat.send("alice", "PRIVMSG bob,carol :hi")
    assert to(out, "alice") == [":srv 407 alice carol :Too many targets (at most 1)"]
    assert recipients(out, "PRIVMSG") == ["bob"]
    out = chat.send("alice", "NOTICE bob,carol :hi")
    assert codes(out, "alice") == []
    assert recipients(out, "NOTICE") == ["bob"]


def test_no_recipient_and_no_text() -> None:
    chat = make()
    assert to(chat.send("alice", "PRIVMSG"), "alice") == [
        ":srv 411 alice :No recipient given (PRIVMSG)"
    ]
    assert to(chat.send("alice", "PRIVMSG bob"), "alice") == [":srv 412 alice :No text to send"]
    assert codes(chat.send("alice", "PRIVMSG bob :"), "alice") == ["412"]
    assert codes(chat.send("alice", "TAGMSG"), "alice") == ["411"]


def test_no_external_messages_unless_minus_n() -> None:
    chat = make()
    assert to(chat.send("carol", "PRIVMSG #a :from outside"), "carol") == [
        ":srv 404 carol #a :Cannot send to channel"
    ]
    chat.send("alice", "MODE #a -n")
    out = chat.send("carol", "PRIVMSG #a :from outside")
    assert recipients(out, "PRIVMSG") == ["alice", "bob"]
    chat.send("alice", "MODE #a +b carol")
    assert codes(chat.send("carol", "PRIVMSG #a :x"), "carol") == ["404"]


def test_notice_never_gets_error_replies() -> None:
    chat = make()
    chat.send("alice", "MODE #a +m")
    for line in ("NOTICE", "NOTICE bob", "NOTICE nobody :x", "NOTICE #none :x", "NOTICE #a :x"):
        assert codes(chat.send("carol", line), "carol") == [], line
    chat.send("bob", "AWAY :out")
    assert codes(chat.send("carol", "NOTICE bob :x"), "carol") == []
    assert codes(chat.send("carol", "PRIVMSG bob :x"), "carol") == ["301"]


def test_message_to_oneself_is_answered_by_its_echo_then_delivered() -> None:
    """With echo-message a client sees both copies: the (labelled) echo answering its
    command, then the message as any recipient gets it; without, only the latter."""
    chat = make()
    out = chat.send("alice", "PRIVMSG Alice :note to self")
    assert [(d.session, d.echo, d.separate) for d in out] == [
        ("alice", True, False),
        ("alice", False, True),
    ]
    assert out[0].message is out[1].message


def test_tagmsg_relays_client_only_tags_and_drops_the_rest() -> None:
    chat = make()
    out = chat.send("alice", "TAGMSG #a", tags={"+typing": "active", "label": "x1"})
    assert to(out, "bob") == [":alice!~alice@host TAGMSG #a"]
    (seen,) = [d.message for d in out if d.session == "bob"]
    assert seen.tags["+typing"] == "active" and "label" not in seen.tags
    assert "msgid" in seen.tags and "time" in seen.tags
    assert recipients(out, "TAGMSG") == ["bob"]
    assert [d.echo for d in out if d.session == "alice"] == [True]


def test_privmsg_relays_client_only_tags() -> None:
    chat = make()
    out = chat.send("alice", "PRIVMSG bob :re", tags={"+draft/reply": "abc"})
    assert all(d.message.tags["+draft/reply"] == "abc" for d in out)


def test_command_names_are_case_insensitive() -> None:
    chat = make()
    out = chat.apply(chat.command("carol", Message("notice", ("nobody", "x"))))
    assert out == []
    out = chat.apply(chat.command("carol", Message("privmsg", ("bob", "x"))))
    assert to(out, "bob") == [":carol!~carol@host PRIVMSG bob x"]


def test_statusmsg_reaches_only_members_with_that_status_and_is_not_kept() -> None:
    chat = Chat()
    chat.users("op", "voiced", "plain")
    for nick in ("op", "voiced", "plain"):
        chat.send(nick, "JOIN #s")
    chat.send("op", "MODE #s +v voiced")
    out = chat.send("plain", "PRIVMSG @#s :ops only")
    assert [(d.session, d.echo) for d in out] == [("op", False), ("plain", True)]
    assert out[0].message.params == ("@#s", "ops only")
    out = chat.send("op", "PRIVMSG +#s :voiced and up")
    assert [(d.session, d.echo) for d in out] == [("voiced", False), ("op", True)]
    history = chat.state.query("plain", parse("CHATHISTORY LATEST #s * 10"), "srv")
    assert not any(m.command == "PRIVMSG" for m in history)
    assert codes(chat.send("plain", "PRIVMSG @#nowhere :x"), "plain") == ["401"]


def test_a_no_ctcp_channel_refuses_ctcp_but_not_actions() -> None:
    chat = Chat()
    chat.users("op", "bob")
    for nick in ("op", "bob"):
        chat.send(nick, "JOIN #q")
    out = chat.send("op", "MODE #q +C")
    assert to(out, "bob") == [":op!~op@host MODE #q +C"]
    assert codes(chat.send("bob", "PRIVMSG #q :\x01VERSION\x01"), "bob") == ["404"]
    assert chat.send("bob", "NOTICE #q :\x01PING 1\x01") == []  # NOTICE: refused silently
    assert to(chat.send("bob", "PRIVMSG #q :\x01ACTION waves\x01"), "op") == [
        ":bob!~bob@host PRIVMSG #q :\x01ACTION waves\x01"
    ]
    assert chat.query("bob", "MODE #q")[0] == ":srv 324 bob #q +Cnt"


def test_a_multiline_message_is_one_message_and_the_state_holds_it_to_the_limits() -> None:
    """The connection gathers a draft/multiline batch into one PRIVMSG with line breaks;
    the state delivers and keeps it whole (one msgid) and refuses one past the limits,
    whoever proposed it."""
    chat = Chat()
    chat.users("alice", "bob")
    for nick in ("alice", "bob"):
        chat.send(nick, "JOIN #a")
    sent = chat.apply(chat.command("alice", Message("PRIVMSG", ("#a", "one\ntwo"))))
    (to_bob,) = [d.message for d in sent if d.session == "bob"]
    assert to_bob.params == ("#a", "one\ntwo") and "msgid" in to_bob.tags
    assert chat.query("bob", "CHATHISTORY LATEST #a * 10")[1].endswith(" PRIVMSG #a one\ntwo")
    too_many = "\n".join(["x"] * 25)
    refused = chat.apply(chat.command("alice", Message("PRIVMSG", ("#a", too_many))))
    assert [d.message.params[:2] for d in refused] == [("BATCH", "MULTILINE_MAX_BYTES")]
