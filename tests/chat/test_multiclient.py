"""Several clients on one account: one user, several connections, each exactly-once."""

from __future__ import annotations

from tests.chat.helpers import Chat, to
from twistedchat.chat.command import CONNECT, LOGIN, NODE_DOWN, ORPHAN_QUIT, REGISTER
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.resume import RESUME_TAG
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

HASH = "scrypt$00$11"


def alice_twice(limits: ChatLimits | None = None) -> Chat:
    """alice (account alice) on n1 and, logged in again, as ``phone`` on n2; bob on n3;
    alice and bob in #a."""
    chat = Chat(limits)
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.connect("bob", "bob", node="n3")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.connect("phone", "alice", node="n2", account="alice")
    return chat


def texts(deliveries: list[Delivery], session: str) -> list[str]:
    return [d.message.params[-1] for d in deliveries if d.session == session]


def test_a_second_login_joins_the_user_instead_of_taking_it_over() -> None:
    chat = Chat()
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.send("alice", "JOIN #a")
    out = chat.connect("phone", "alice", node="n2", account="alice")
    answer = [d.message for d in out if d.session == "phone"]
    assert answer[0].command == "JOIN" and answer[0].params[0] == "#a"
    assert answer[-1] == Message("RESUME", ("SUCCESS", "alice"))
    assert chat.state.session_node("alice") == "n1"  # still there
    assert chat.state.session_node("phone") == "n2"
    assert chat.state.session_nick("phone") == "alice"
    assert chat.state.user_session_of("phone") == "alice"
    assert [d for d in out if d.session == "alice"] == []  # nobody else is told


def test_what_one_client_sends_is_the_users_and_reaches_the_others() -> None:
    chat = alice_twice()
    out = chat.send("phone", "PRIVMSG #a :from the phone")
    assert to(out, "bob") == [":alice!~alice@host PRIVMSG #a :from the phone"]
    (echo,) = [d for d in out if d.session == "alice"]
    assert echo.echo  # to the user: each node shows it to the user's other clients
    out = chat.send("bob", "PRIVMSG #a :hi alice")
    assert texts(out, "alice") == ["hi alice"] and texts(out, "phone") == []


def test_each_connection_counts_its_own_writes() -> None:
    chat = alice_twice()
    assert chat.state.last_applied_seq("phone") == 1
    chat.send("phone", "AWAY :lunch")
    chat.send("alice", "AWAY")
    assert chat.state.last_applied_seq("phone") == 2
    duplicate = chat.command("phone", Message("PRIVMSG", ("#a", "again")))
    chat.seqs["phone"] -= 1
    stale = chat.command("phone", Message("PRIVMSG", ("#a", "stale")))
    chat.apply(duplicate)
    assert to(chat.apply(stale), "bob") == []  # seq 3 again: a retry, applied once


def test_a_client_that_leaves_is_seen_by_nobody_and_the_last_one_quits() -> None:
    chat = alice_twice()
    assert to(chat.send("phone", "QUIT :bye"), "bob") == []
    chat.connect("laptop", "alice", node="n2", account="alice")
    assert to(chat.send("alice", "QUIT :bye"), "bob") == []  # the laptop stays
    out = chat.send("bob", "PRIVMSG #a :still there?")
    assert texts(out, "alice") == ["still there?"]  # the user's session goes on
    assert chat.state.session_nick("laptop") == "alice"
    assert to(chat.send("laptop", "QUIT :bye"), "bob") == [":alice!~alice@host QUIT bye"]
    assert not chat.state.nick_in_use("alice")


def test_late_writes_of_a_connection_that_left_are_ignored() -> None:
    chat = alice_twice()
    chat.send("alice", "QUIT")
    assert to(chat.send("alice", "PRIVMSG #a :ghost"), "bob") == []


def test_a_client_on_a_node_that_restarts_or_is_lost_is_gone() -> None:
    chat = alice_twice()
    chat.reset("n2")
    assert chat.state.session_nick("phone") is None and chat.state.nick_in_use("alice")
    chat = alice_twice()
    chat.lose("n1")  # the user's own connection: it goes on through the phone
    assert chat.state.nick_in_use("alice")
    assert to(chat.send("phone", "PRIVMSG #a :here"), "bob")
    chat.lose("n2")
    assert not chat.state.nick_in_use("alice")


def test_a_login_while_every_connection_is_on_a_down_node_takes_over_with_replay() -> None:
    chat = alice_twice()
    session = f"n3/boot{chat.index}/node"
    for node in ("n1", "n2"):
        chat.apply(chat.command(session, Message(NODE_DOWN, (node, str(chat.index))), "n3"))
    chat.send("bob", "PRIVMSG #a :missed")
    out = chat.connect("laptop", "alice", node="n3", account="alice")
    assert chat.state.session_node("alice") == "n3"  # taken over
    assert [d.message.params[-1] for d in out if d.separate][-1] == "missed"


def test_past_the_clients_per_user_the_newest_login_takes_over() -> None:
    chat = alice_twice(ChatLimits(clients_per_user=2))
    chat.connect("laptop", "alice", node="n3", account="alice")
    assert chat.state.session_node("alice") == "n3"  # the laptop's node adopts "alice"
    assert chat.state.session_nick("phone") == "alice"  # the phone stays


def test_without_multiclient_a_login_takes_over() -> None:
    chat = alice_twice(ChatLimits(multiclient=False))
    assert chat.state.session_node("alice") == "n2"


def test_clients_survive_a_snapshot() -> None:
    chat = alice_twice()
    chat.send("alice", "QUIT")
    chat.state = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert chat.state.session_nick("phone") == "alice"
    assert chat.state.last_applied_seq("phone") == 1
    assert to(chat.send("phone", "PRIVMSG #a :restored"), "bob")
    assert to(chat.send("alice", "PRIVMSG #a :ghost"), "bob") == []


def test_identify_takes_a_down_nodes_session_over_and_the_interim_nick_quits() -> None:
    chat = Chat()
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.send("alice", "JOIN #a")
    chat.connect("guest", "alice_", node="n2")
    chat.connect("bob", "bob", node="n3")
    chat.send("guest", "JOIN #b")
    chat.send("bob", "JOIN #b")
    session = f"n3/boot{chat.index}/node"
    chat.apply(chat.command(session, Message(NODE_DOWN, ("n1", str(chat.index))), "n3"))
    out = chat.internal("guest", LOGIN, "alice")
    assert to(out, "bob")[-1] == ":alice_!~alice_@host QUIT :Logged in as alice"
    shown = [d.message.command for d in out if d.session == "guest"]
    assert shown[:2] == ["900", "NICK"] and "JOIN" in shown and "366" in shown
    assert chat.applied is not None and chat.applied.moved == "alice"
    assert chat.state.session_node("alice") == "n2"
    assert not chat.state.nick_in_use("alice_")


def test_identify_while_the_accounts_user_is_live_is_a_login_only() -> None:
    chat = alice_twice()
    chat.connect("guest", "alice_", node="n2")
    out = chat.internal("guest", LOGIN, "alice")
    assert [d.message.command for d in out if d.session == "guest"] == ["900"]
    assert chat.state.session_nick("guest") == "alice_"


def test_identify_with_no_other_session_of_the_account_changes_nothing_else() -> None:
    chat = Chat()
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.send("alice", "QUIT")
    chat.connect("back", "alice", node="n2")
    out = chat.internal("back", LOGIN, "alice")
    assert [d.message.command for d in out if d.session == "back"] == ["900"]
    assert chat.state.session_nick("back") == "alice"


def test_a_resumable_client_takes_the_user_over_rather_than_join() -> None:
    chat = Chat()
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    params = ("alice", "~alice", "host", "Alice", "alice")
    connect = Message(CONNECT, params, None, {RESUME_TAG: "hash-of-a-token"})
    chat.nodes["gateway"] = "n2"
    chat.apply(chat.command("gateway", connect, "n2"))
    assert chat.state.session_node("alice") == "n2" and not chat.state._world.clients


def test_a_restarted_nodes_orphan_with_further_clients_goes_on_through_them() -> None:
    chat = Chat()
    chat.connect("alice", "alice", node="n1")
    chat.state._world.set_resume_hash(chat.state._world.users["alice"], "hash")
    chat.internal("alice", REGISTER, "alice", HASH)
    chat.connect("bob", "bob", node="n3")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.connect("phone", "alice", node="n2", account="alice")
    chat.reset("n1")  # a resumable session stays for its client to resume it...
    session = f"n1/boot{chat.index}/node"
    out = chat.apply(chat.command(session, Message(ORPHAN_QUIT, ("alice", "hash")), "n1"))
    assert to(out, "bob") == []  # ...and when it does not, the phone carries on
    assert chat.state.session_nick("phone") == "alice"
