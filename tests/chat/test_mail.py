"""Private messages kept for offline accounts, and private history keyed by account."""

from __future__ import annotations

import json

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import CONNECT, LOGIN, REGISTER
from twistedchat.chat.delivery import Delivery, expand
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.outbox import server_time
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

HASH = "scrypt$00$11"
DAY_MS = 86_400_000
EVER = ("timestamp=2000-01-01T00:00:00.000Z", "timestamp=2100-01-01T00:00:00.000Z")


def offline(*accounts: str, limits: ChatLimits | None = None) -> Chat:
    """bob online; each of ``accounts`` registered by a session of that name, then gone."""
    chat = Chat(limits)
    chat.users("bob", *accounts)
    for name in accounts:
        chat.internal(name, REGISTER, name, HASH)
        chat.send(name, "QUIT :bye")
    return chat


def mail_of(chat: Chat, account: str) -> list[str]:
    """The texts waiting for ``account`` (folded), oldest first."""
    return [kept.message.params[1] for kept in chat.state._world.mail.boxes.get(account, ())]


def echo_of(deliveries: list[Delivery]) -> Message:
    (echo,) = [d.message for d in deliveries if d.echo]
    return echo


def texts(replies: list[Message]) -> list[str]:
    return [m.params[-1] for m in replies if m.command in ("PRIVMSG", "NOTICE")]


def ask(chat: Chat, session: str, *params: str) -> list[Message]:
    return chat.state.query(session, Message("CHATHISTORY", params), "srv")


def targets(chat: Chat, session: str) -> list[str]:
    replies = ask(chat, session, "TARGETS", *EVER, "10")
    return [m.params[1] for m in replies if m.command == "CHATHISTORY"]


def test_privmsg_to_an_offline_account_is_kept_and_the_sender_told() -> None:
    chat = offline("alice")
    out = chat.send("bob", "PRIVMSG Alice :are you there?")
    assert to(out, "bob") == [
        ":srv 301 bob alice :alice is offline; your message will be delivered when they log in"
    ]
    echo = echo_of(out)  # echo-message and labels work as for any delivered PRIVMSG
    assert echo.params == ("alice", "are you there?") and echo.source == "bob!~bob@host"
    assert mail_of(chat, "alice") == ["are you there?"]


def test_only_privmsg_to_a_registered_account_is_kept() -> None:
    chat = offline("alice")
    assert chat.send("bob", "NOTICE alice :hi") == []
    assert codes(chat.send("bob", "TAGMSG alice", {"+typing": "active"}), "bob") == ["401"]
    assert codes(chat.send("bob", "PRIVMSG nobody :hi"), "bob") == ["401"]
    assert chat.state._world.mail.boxes == {}


def test_sasl_login_gets_the_mail_after_the_welcome_in_order_with_original_tags() -> None:
    chat = offline("alice")
    chat.users("carol")
    sent = [
        echo_of(chat.send("bob", "PRIVMSG alice :one")),
        echo_of(chat.send("carol", "PRIVMSG ALICE :two")),
        echo_of(chat.send("bob", "PRIVMSG alice :three")),
    ]
    out = chat.connect("back", "alice", account="alice")
    assert codes(out, "back") == ["001", "PRIVMSG", "PRIVMSG", "PRIVMSG"]
    mail = [d for d in out if d.message.command == "PRIVMSG"]
    assert [d.message for d in mail] == sent  # source, time and msgid as when sent
    assert [(d.message.source or "").partition("!")[0] for d in mail] == ["bob", "carol", "bob"]
    assert mail[0].message.tags["time"] != server_time(chat.time)  # not the login's time
    assert all(d.separate and not d.echo for d in mail)  # sent after the welcome burst
    assert chat.state._world.mail.boxes == {}
    assert codes(chat.connect("again", "ally", account="alice"), "again") == ["001"]


def test_identify_after_registration_gets_the_mail_after_the_login_reply() -> None:
    chat = offline("alice")
    chat.send("bob", "PRIVMSG alice :while you were out")
    chat.users("guest")
    out = chat.internal("guest", LOGIN, "alice")
    assert codes(out, "guest") == ["900", "PRIVMSG"]
    assert [d.separate for d in out if d.session == "guest"] == [False, True]
    assert to(out, "guest")[1] == ":bob!~bob@host PRIVMSG alice :while you were out"
    assert chat.state._world.mail.boxes == {}


def logged_in(chat: Chat, *accounts: str) -> None:
    """A session per account, named and logged in after it (registered by ``offline``)."""
    for name in accounts:
        chat.connect(name, name, account=name)


def test_a_full_mailbox_refuses_more_and_each_sender_has_a_share() -> None:
    chat = offline(
        "alice", "carol", "dave", limits=ChatLimits(mail_per_account=3, mail_per_sender=2)
    )
    logged_in(chat, "carol", "dave")
    chat.users("eve")  # not logged in, like bob: together they are one sender
    chat.send("bob", "PRIVMSG alice :b1")
    chat.send("eve", "PRIVMSG alice :e1")
    chat.send("bob", "NICK bobby")  # a new nick changes nothing
    refused = chat.send("bob", "PRIVMSG alice :b2")
    assert to(refused, "bob", echo=None) == [
        ":srv 401 bobby alice :alice is offline and already has 2 messages from senders who "
        "are not logged in waiting"
    ]
    chat.send("carol", "PRIVMSG alice :c1")
    refused = chat.send("dave", "PRIVMSG alice :d1")  # full: what was accepted stays
    assert to(refused, "dave", echo=None) == [
        ":srv 401 dave alice :alice is offline and already has 3 messages waiting"
    ]
    assert mail_of(chat, "alice") == ["b1", "e1", "c1"]
    out = chat.connect("back", "alice", account="alice")
    assert texts([d.message for d in out]) == ["b1", "e1", "c1"]


def test_one_sender_cannot_take_every_mailbox() -> None:
    chat = offline("alice", "carol", "dave", limits=ChatLimits(mail_from_sender=2))
    chat.send("bob", "PRIVMSG alice :1")
    chat.send("bob", "PRIVMSG carol :2")
    refused = chat.send("bob", "PRIVMSG dave :3")
    assert codes(refused, "bob") == ["401"] and "2 messages from senders" in to(refused, "bob")[0]
    restored = ChatState.restore(chat.state.snapshot(), chat.state.limits)
    assert restored._world.mail._waiting == chat.state._world.mail._waiting  # counts rebuilt
    chat.connect("back", "alice", account="alice")  # alice took hers: room for one more
    assert codes(chat.send("bob", "PRIVMSG dave :3"), "bob") == ["301"]


def test_few_accounts_hold_mail_and_expired_mailboxes_make_room() -> None:
    chat = offline("alice", "carol", limits=ChatLimits(mail_accounts=1, history_days=1))
    chat.send("bob", "PRIVMSG alice :first")
    refused = chat.send("bob", "PRIVMSG carol :second")
    assert codes(refused, "bob") == ["401"] and "no more messages" in to(refused, "bob")[0]
    assert codes(chat.send("bob", "PRIVMSG alice :third"), "bob") == ["301"]
    chat.time += 2 * DAY_MS
    assert codes(chat.send("bob", "PRIVMSG carol :fourth"), "bob") == ["301"]
    assert list(chat.state._world.mail.boxes) == ["carol"]  # alice's had expired


def test_expired_mail_is_not_delivered() -> None:
    chat = offline("alice", limits=ChatLimits(history_days=1))
    chat.send("bob", "PRIVMSG alice :stale")
    chat.time += 2 * DAY_MS
    assert codes(chat.connect("back", "alice", account="alice"), "back") == ["001"]
    assert chat.state._world.mail.boxes == {}


def test_an_owner_logged_in_under_another_nick_gets_it_at_once() -> None:
    chat = offline("alice")
    chat.connect("ally", "ally", account="alice")
    out = chat.send("bob", "PRIVMSG alice :live now")
    assert to(out, "ally") == [":bob!~bob@host PRIVMSG alice :live now"]
    assert codes(out, "bob") == [] and echo_of(out).params == ("alice", "live now")
    assert chat.state._world.mail.boxes == {}
    note = chat.send("ally", "PRIVMSG alice :note to self")
    assert [(d.session, d.echo) for d in note] == [("ally", False)]  # one copy, like to oneself


def test_mail_survives_a_snapshot_and_restored_replicas_deliver_the_same() -> None:
    chat = offline("alice")
    chat.send("bob", "PRIVMSG alice :one")
    chat.send("bob", "PRIVMSG alice :two")
    data = chat.state.snapshot()
    assert [key for key, _ in json.loads(data)["mail"]] == ["alice"]
    restored = ChatState.restore(data, ChatLimits())
    assert restored.snapshot() == data
    chat.nodes["back"] = "n1"
    login = chat.command("back", Message(CONNECT, ("alice", "~a", "host", "Alice", "alice")))
    out = chat.apply(login)
    assert texts([d.message for d in out]) == ["one", "two"]
    assert list(expand(restored.apply(chat.index, login).deliveries)) == out
    assert restored.snapshot() == chat.state.snapshot()


def test_a_restored_replica_reaches_several_owner_sessions_in_the_same_order() -> None:
    """A restore rebuilds who is logged in where in connect order, not login order."""
    chat = offline("alice")
    chat.users("zed", "amy")
    chat.internal("amy", LOGIN, "alice")
    chat.internal("zed", LOGIN, "alice")
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    send = chat.command("bob", Message("PRIVMSG", ("alice", "to both")))
    out = chat.apply(send)
    assert [d.session for d in out if not d.echo] == ["amy", "zed"]
    assert list(expand(restored.apply(chat.index, send).deliveries)) == out


def test_a_snapshot_from_before_mail_still_loads() -> None:
    chat = offline("alice")
    doc = json.loads(chat.state.snapshot())
    del doc["mail"]
    restored = ChatState.restore(json.dumps(doc).encode(), ChatLimits())
    assert restored.nick_in_use("bob") and restored.password_hash("alice") == HASH
    assert restored._world.mail.boxes == {}


def test_replicas_fed_the_same_log_keep_and_deliver_the_same() -> None:
    limits = ChatLimits(mail_per_account=2, mail_per_sender=1)
    chat = offline("alice", "carol", "dave", limits=limits)
    logged_in(chat, "carol", "dave")
    for sender in ("bob", "carol", "dave", "bob"):
        chat.send(sender, f"PRIVMSG alice :from {sender}")
    chat.users("guest")
    chat.internal("guest", LOGIN, "alice")
    a, b = ChatState(limits), ChatState(limits)
    outputs = [(a.apply(i, c), b.apply(i, c)) for i, c in chat.log]
    assert all(x == y for x, y in outputs)
    assert texts([d.message for d in outputs[-1][0].deliveries]) == ["from bob", "from carol"]
    assert a.snapshot() == b.snapshot() == chat.state.snapshot()


def test_private_history_follows_an_account_across_nicks_and_while_offline() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.send("bob", "PRIVMSG alice :hi alice")
    chat.send("alice", "PRIVMSG bob :hi bob")
    chat.send("alice", "NICK ally")
    assert texts(ask(chat, "bob", "LATEST", "ally", "*", "10")) == ["hi alice", "hi bob"]
    assert texts(ask(chat, "alice", "LATEST", "bob", "*", "10")) == ["hi alice", "hi bob"]
    assert targets(chat, "bob") == ["ally"]  # the nick a client can ask for again
    chat.send("alice", "QUIT :bye")
    chat.send("bob", "PRIVMSG alice :kept for later")
    assert texts(ask(chat, "bob", "LATEST", "alice", "*", "10"))[-1] == "kept for later"
    assert targets(chat, "bob") == ["alice"]  # offline: the account's name
    chat.users("guest")
    chat.internal("guest", LOGIN, "alice")
    assert texts(ask(chat, "guest", "LATEST", "bob", "*", "10")) == [
        "hi alice", "hi bob", "kept for later",
    ]  # fmt: skip
    assert targets(chat, "guest") == ["bob"]


def test_an_account_and_someone_else_on_its_nick_do_not_share_a_conversation() -> None:
    chat = offline("alice")
    chat.send("bob", "PRIVMSG alice :for alice")
    chat.users("mallory")
    chat.send("mallory", "NICK alice")  # not logged in: a nick like any other
    chat.send("mallory", "PRIVMSG bob :i am alice, honest")
    assert texts(ask(chat, "bob", "LATEST", "alice", "*", "10")) == ["i am alice, honest"]
    chat.send("mallory", "QUIT :gone")
    assert texts(ask(chat, "bob", "LATEST", "alice", "*", "10")) == ["for alice"]
    chat.connect("back", "alice", account="alice")
    assert texts(ask(chat, "back", "LATEST", "bob", "*", "10")) == ["for alice"]
