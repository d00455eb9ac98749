"""CONNECT, the registration race, and exactly-once application of each session's commands."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import CONNECT, Command
from twistedchat.chat.limits import ChatLimits
from twistedchat.wire.message import Message


def test_connect_creates_the_user_and_welcomes_them() -> None:
    chat = Chat()
    out = chat.connect("s1", "alice", host="10.0.0.1")
    assert to(out, "s1") == [
        ":srv 001 alice :Welcome to the Internet Relay Network alice!~alice@10.0.0.1"
    ]
    assert chat.state.session_nick("s1") == "alice"
    assert chat.state.nick_in_use("ALICE")
    assert chat.state.user_count() == 1
    assert chat.state.last_applied_seq("s1") == 1


def test_registration_race_is_decided_by_log_order() -> None:
    chat = Chat()
    first = chat.connect("s1", "Alice", node="n1")
    second = chat.connect("s2", "alice", node="n2")
    assert codes(first, "s1") == ["001"]
    assert to(second, "s2") == [":srv 433 * alice :Nickname is already in use"]
    assert chat.state.session_nick("s2") is None
    assert chat.state.user_count() == 1


def test_failed_connect_advances_seq_so_a_retry_with_another_nick_works() -> None:
    chat = Chat()
    chat.users("alice")
    assert codes(chat.connect("s2", "alice"), "s2") == ["433"]
    assert chat.state.last_applied_seq("s2") == 1
    out = chat.connect("s2", "bob")  # seq 2
    assert codes(out, "s2") == ["001"]
    assert chat.state.last_applied_seq("s2") == 2
    assert chat.state.session_nick("s2") == "bob"


def test_connect_with_erroneous_nick_gets_432() -> None:
    chat = Chat()
    out = chat.connect("s1", "1abc")
    assert to(out, "s1") == [":srv 432 * 1abc :Erroneous nickname"]
    assert chat.connect("s2", "x" * 31) and not chat.state.nick_in_use("x" * 31)


def test_connect_with_rfc1459_equivalent_nick_collides() -> None:
    chat = Chat()
    chat.users("[foo]\\")
    assert codes(chat.connect("s2", "{FOO}|"), "s2") == ["433"]


def test_connect_of_a_registered_session_gets_462() -> None:
    chat = Chat()
    chat.users("alice")
    assert codes(chat.connect("alice", "other"), "alice") == ["462"]
    assert chat.state.session_nick("alice") == "alice"


def test_commands_of_unregistered_sessions_get_451_and_quit_is_silent() -> None:
    chat = Chat()
    assert to(chat.send("ghost", "JOIN #a"), "ghost") == [":srv 451 * :You have not registered"]
    assert chat.send("ghost", "QUIT :bye") == []
    assert chat.state.last_applied_seq("ghost") == 2


def test_connect_with_too_few_params_gets_461() -> None:
    chat = Chat()
    out = chat.apply(chat.command("s1", Message(CONNECT, ("alice",))))
    assert codes(out, "s1") == ["461"]


def test_duplicate_is_applied_once() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    command = chat.command("alice", Message("PRIVMSG", ("bob", "hi")))
    assert codes(chat.apply(command), "bob") == ["PRIVMSG"]
    assert chat.apply(command) == []  # the retry
    assert chat.state.last_applied_seq("alice") == 2


def test_gap_is_refused_without_advancing_then_resent_in_order() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    lost = chat.command("alice", Message("PRIVMSG", ("bob", "one")))
    later = chat.command("alice", Message("PRIVMSG", ("bob", "two")))
    assert chat.apply(later) == []
    assert chat.state.last_applied_seq("alice") == 1
    assert to(chat.apply(lost), "bob")[0].endswith("PRIVMSG bob one")
    assert to(chat.apply(later), "bob")[0].endswith("PRIVMSG bob two")
    assert chat.state.last_applied_seq("alice") == 3


def test_unknown_session_accepts_only_seq_one() -> None:
    chat = Chat()
    late = Command("s9", 2, 1, "n1", Message(CONNECT, ("zed", "~z", "h", "Z")))
    assert chat.apply(late) == []
    assert chat.state.last_applied_seq("s9") == 0


def test_quit_session_keeps_its_seq_so_a_delayed_connect_cannot_revive_it() -> None:
    chat = Chat()
    connect = chat.command("s1", Message(CONNECT, ("alice", "~a", "h", "A")))
    chat.apply(connect)
    chat.send("s1", "QUIT :Quit: bye")
    assert chat.state.session_nick("s1") is None
    assert chat.state.last_applied_seq("s1") == 2
    assert chat.apply(connect) == []
    assert not chat.state.nick_in_use("alice")


def test_ended_session_records_are_bounded_oldest_first() -> None:
    chat = Chat(ChatLimits(session_records=3))
    for i in range(5):
        chat.connect(f"s{i}", "1bad")  # fails: the session is recorded as ended
    assert [chat.state.last_applied_seq(f"s{i}") for i in range(5)] == [0, 0, 1, 1, 1]
    chat.users("alice")
    chat.send("alice", "QUIT :bye")
    assert [chat.state.last_applied_seq(f"s{i}") for i in range(5)] == [0, 0, 0, 1, 1]
    assert chat.state.last_applied_seq("alice") == 2


def test_connect_proposed_by_a_previous_run_of_the_node_is_ignored() -> None:
    chat = Chat()
    stale = chat.command("n1/oldboot/1", Message(CONNECT, ("ghost", "~g", "h", "G")), node="n1")
    chat.reset("n1")
    assert chat.apply(stale) == []
    assert not chat.state.nick_in_use("ghost")
    assert chat.state.last_applied_seq("n1/oldboot/1") == 1
