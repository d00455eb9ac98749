"""Always-on accounts: sessions that stay without a client, and get what they missed."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat import alwayson
from twistedchat.chat.command import ACCOUNT_SET, HANDED_TAG, REGISTER
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.history import DAY_MS
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

HASH = "scrypt$00$11"


def always_on_alice(mode: str = "opt-in", **limits: int) -> Chat:
    """alice (account alice, ALWAYS-ON ON) on n1 and bob on n2, both in #a."""
    chat = Chat(ChatLimits(always_on=mode, **limits))
    chat.connect("alice", "alice", node="n1")
    chat.internal("alice", REGISTER, "alice", HASH)
    if mode == "opt-in":
        chat.internal("alice", ACCOUNT_SET, "ALWAYS-ON", "ON")
    chat.connect("bob", "bob", node="n2")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    return chat


def lost_connection(chat: Chat, session: str, handed_out: int) -> list[Delivery]:
    """The QUIT a node proposes when a connection drops, after handing it ``handed_out``."""
    quit_ = Message("QUIT", ("Connection closed",), None, {HANDED_TAG: str(handed_out)})
    return chat.apply(chat.command(session, quit_))


def back(chat: Chat, nick: str = "alice", node: str = "n3") -> list[Delivery]:
    return chat.connect("back", nick, node=node, account="alice")


def replayed(deliveries: list[Delivery]) -> list[str]:
    return [d.message.params[-1] for d in deliveries if d.session == "back" and d.separate]


def test_a_quit_detaches_the_session_others_see_it_away_not_gone() -> None:
    chat = always_on_alice()
    out = chat.send("alice", "QUIT :bye")
    assert to(out, "bob") == [":alice!~alice@host AWAY :Not connected (always-on)"]
    assert chat.state.nick_in_use("alice")
    assert codes(chat.send("bob", "PRIVMSG alice :are you there?"), "bob") == ["301"]


def test_the_next_login_takes_the_session_back_and_gets_what_it_missed() -> None:
    chat = always_on_alice()
    chat.send("bob", "PRIVMSG #a :seen")
    lost_connection(chat, "alice", chat.index)  # the node had handed it "seen"
    chat.send("bob", "PRIVMSG #a :one")
    chat.send("bob", "PRIVMSG alice :two")
    out = back(chat)
    assert replayed(out)[1:] == ["one", "two"]
    assert replayed(out)[0].startswith("*** Replaying 2 lines")
    assert to(out, "bob") == [":alice!~alice@host AWAY"]  # back: no longer away
    assert chat.state.session_node("alice") == "n3"
    assert not chat.state._world.detached


def test_lines_the_node_did_not_hand_out_before_it_saw_the_loss_are_replayed() -> None:
    chat = always_on_alice()
    handed = chat.index
    chat.send("bob", "PRIVMSG #a :in flight when the connection dropped")
    lost_connection(chat, "alice", handed)
    assert replayed(back(chat))[1:] == ["in flight when the connection dropped"]


def test_a_login_under_another_nick_takes_the_detached_session_and_its_nick() -> None:
    chat = always_on_alice()
    chat.send("alice", "QUIT")
    chat.send("bob", "PRIVMSG #a :hello")
    out = back(chat, nick="alice_phone")
    answer = [d.message for d in out if d.session == "back" and not d.separate]
    assert answer[-1] == Message("RESUME", ("SUCCESS", "alice"))
    assert replayed(out)[1:] == ["hello"]
    assert not chat.state.nick_in_use("alice_phone")


def test_without_always_on_a_quit_is_a_quit() -> None:
    chat = always_on_alice(mode="off")
    out = chat.send("alice", "QUIT :bye")
    assert to(out, "bob") == [":alice!~alice@host QUIT bye"]
    assert not chat.state.nick_in_use("alice")


def test_opt_out_and_mandatory_need_no_choice_and_off_or_default_can_be_chosen() -> None:
    for mode in ("opt-out", "mandatory"):
        chat = always_on_alice(mode=mode)
        chat.send("alice", "QUIT")
        assert chat.state.nick_in_use("alice"), mode
    chat = always_on_alice(mode="opt-out")
    chat.internal("alice", ACCOUNT_SET, "ALWAYS-ON", "OFF")
    chat.send("alice", "QUIT")
    assert not chat.state.nick_in_use("alice")


def test_nickserv_set_answers_and_refuses_what_the_network_does_not_allow() -> None:
    chat = always_on_alice(mode="mandatory")
    out = chat.internal("alice", ACCOUNT_SET, "ALWAYS-ON", "OFF")
    assert "mandatory on this network" in to(out, "alice")[0]
    chat = always_on_alice()
    assert "ALWAYS-ON is on for alice" in to(chat.internal("alice", ACCOUNT_SET, "ALWAYS-ON"),
                                              "alice")[0]  # fmt: skip
    assert "takes ON, OFF or DEFAULT" in to(chat.internal("alice", ACCOUNT_SET, "ALWAYS-ON",
                                                          "MAYBE"), "alice")[0]  # fmt: skip
    assert "Options:" in to(chat.internal("alice", ACCOUNT_SET, "COLOUR", "RED"), "alice")[0]
    assert "not logged in" in to(chat.internal("bob", ACCOUNT_SET, "ALWAYS-ON", "ON"), "bob")[0]


def test_a_dead_nodes_always_on_users_stay_when_the_node_is_lost_or_restarts() -> None:
    chat = always_on_alice()
    chat.lose("n1")
    assert chat.state.nick_in_use("alice")
    chat = always_on_alice()
    chat.reset("n1")
    assert chat.state.nick_in_use("alice")
    chat.send("bob", "PRIVMSG #a :after the restart")
    assert replayed(back(chat))[1:] == ["after the restart"]


def test_a_long_absence_ends_the_session() -> None:
    chat = always_on_alice(always_on_days=1)
    chat.send("alice", "QUIT")
    chat.time += DAY_MS
    out = chat.send("bob", "PRIVMSG #a :anyone?")
    assert to(out, "bob")[-1].endswith(f"QUIT :{alwayson.EXPIRED}")
    assert not chat.state.nick_in_use("alice")


def test_past_the_cap_of_detached_sessions_leaving_quits() -> None:
    chat = always_on_alice(always_on_max=1)
    chat.connect("carol", "carol", node="n1")
    chat.internal("carol", REGISTER, "carol", HASH)
    chat.internal("carol", ACCOUNT_SET, "ALWAYS-ON", "ON")
    chat.send("alice", "QUIT")
    chat.send("carol", "QUIT")
    assert chat.state.nick_in_use("alice") and not chat.state.nick_in_use("carol")


def test_a_detached_session_survives_a_snapshot_in_its_detach_order() -> None:
    chat = always_on_alice(always_on_days=1)
    chat.send("alice", "QUIT")
    chat.send("bob", "PRIVMSG #a :kept")
    chat.state = ChatState.restore(chat.state.snapshot(), chat.state.limits)
    assert list(chat.state._world.detached) == ["alice"]
    assert replayed(back(chat))[1:] == ["kept"]
    assert chat.state._world.accounts["alice"].always_on is True


def test_the_quit_its_node_sends_after_the_client_quit_changes_nothing() -> None:
    chat = always_on_alice()
    chat.send("alice", "QUIT")
    since = chat.state._world.users["alice"].detached_at
    lost_connection(chat, "alice", chat.index + 5)
    assert chat.state._world.users["alice"].detached_at == since
