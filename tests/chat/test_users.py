"""NICK, AWAY, QUIT, user MODE and NODE_RESET."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, recipients, to


def test_nick_change_is_seen_once_by_self_and_everyone_sharing_a_channel() -> None:
    chat = Chat()
    chat.users("alice", "bob", "carol", "dave")
    for nick in ("alice", "bob", "carol"):
        chat.send(nick, "JOIN #a")
    chat.send("alice", "JOIN #b")
    chat.send("bob", "JOIN #b")
    out = chat.send("alice", "NICK Alicia")
    assert recipients(out, "NICK") == ["alice", "bob", "carol"]
    assert to(out, "bob") == [":alice!~alice@host NICK Alicia"]
    assert chat.state.session_nick("alice") == "Alicia"
    assert chat.state.nick_in_use("alicia") and not chat.state.nick_in_use("alice")


def test_nick_collision_is_case_insensitive_with_rfc1459_brackets() -> None:
    chat = Chat()
    chat.users("a[1]", "bob")
    assert to(chat.send("bob", "NICK A{1}"), "bob") == [
        ":srv 433 bob A{1} :Nickname is already in use"
    ]
    assert codes(chat.send("bob", "NICK A[1]"), "bob") == ["433"]
    assert chat.state.session_nick("bob") == "bob"


def test_changing_only_the_case_of_ones_own_nick_is_allowed() -> None:
    chat = Chat()
    chat.users("alice")
    assert to(chat.send("alice", "NICK ALICE"), "alice") == [":alice!~alice@host NICK ALICE"]
    assert chat.send("alice", "NICK ALICE") == []  # no change at all


def test_nick_errors() -> None:
    chat = Chat()
    chat.users("alice")
    assert to(chat.send("alice", "NICK"), "alice") == [":srv 431 alice :No nickname given"]
    assert to(chat.send("alice", "NICK #chan"), "alice") == [
        ":srv 432 alice #chan :Erroneous nickname"
    ]
    assert codes(chat.send("alice", "NICK " + "x" * 31), "alice") == ["432"]


def test_freed_nick_can_be_taken() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "NICK ally")
    assert codes(chat.send("bob", "NICK alice"), "bob") == ["NICK"]


def test_away_sets_and_clears_with_305_306_and_is_truncated() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    assert to(chat.send("alice", "AWAY :gone " + "x" * 300), "alice") == [
        ":srv 306 alice :You have been marked as being away"
    ]
    out = chat.send("bob", "PRIVMSG alice :hi")
    (away,) = [line for line in to(out, "bob") if " 301 " in line]
    assert away.startswith(":srv 301 bob alice :gone x") and len(away.split(" :", 1)[1]) == 200
    assert to(chat.send("alice", "AWAY"), "alice") == [
        ":srv 305 alice :You are no longer marked as being away"
    ]
    assert codes(chat.send("bob", "PRIVMSG alice :hi"), "bob") == []


def test_quit_is_seen_by_channel_peers_with_the_reason_as_given() -> None:
    chat = Chat()
    chat.users("alice", "bob", "carol")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("bob", "QUIT :Quit: bye now")
    assert recipients(out, "QUIT") == ["alice"]
    assert to(out, "alice") == [":bob!~bob@host QUIT :Quit: bye now"]
    assert chat.state.session_nick("bob") is None
    assert not chat.state.nick_in_use("bob")
    assert "bob" not in chat.query("alice", "NAMES #a")[0]


def test_user_mode_invisible_on_self_only() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    assert to(chat.send("alice", "MODE alice +i"), "alice") == [":alice!~alice@host MODE alice +i"]
    assert chat.send("alice", "MODE alice +i") == []
    assert chat.query("alice", "MODE alice") == [":srv 221 alice +i"]
    assert to(chat.send("alice", "MODE alice -i+x"), "alice") == [
        ":srv 501 alice :Unknown MODE flag",
        ":alice!~alice@host MODE alice -i",
    ]
    assert to(chat.send("alice", "MODE bob +i"), "alice") == [
        ":srv 502 alice :Can't change mode for other users"
    ]
    assert codes(chat.send("alice", "MODE nobody +i"), "alice") == ["401"]
    assert chat.query("alice", "MODE bob") == [":srv 502 alice :Can't view modes for other users"]


def test_node_reset_ends_that_nodes_sessions_only() -> None:
    chat = Chat()
    chat.connect("a", "alice", node="n1")
    chat.connect("b", "bob", node="n1")
    chat.connect("c", "carol", node="n2")
    for session in ("a", "b", "c"):
        chat.send(session, "JOIN #room")
    assert chat.state.sessions_of_node("n1") == ["a", "b"]
    out = chat.reset("n1", "127.0.0.1:6667")
    assert to(out, "c") == [
        ":alice!~alice@host QUIT :Node restarted",
        ":bob!~bob@host QUIT :Node restarted",
    ]
    assert recipients(out, "QUIT") == ["c", "c"]  # nobody of n1 is left to tell
    assert chat.state.sessions_of_node("n1") == []
    assert chat.state.sessions_of_node("n2") == ["c"]
    assert chat.state.node_addresses("n1") == ["127.0.0.1:6667"]
    assert chat.state.user_count() == 1
    assert chat.state.last_applied_seq("a") == 2  # a delayed retry stays a duplicate
    assert codes(chat.connect("a2", "alice", node="n1"), "a2") == ["001"]


def test_a_lost_node_s_users_quit_for_everyone_and_free_their_nicks() -> None:
    chat = Chat()
    chat.connect("a", "alice", node="n1")
    chat.connect("c", "carol", node="n2")
    for session in ("a", "c"):
        chat.send(session, "JOIN #room")
    out = chat.lose("n1")
    assert to(out, "c") == [":alice!~alice@host QUIT :Node lost"]
    assert chat.state.sessions_of_node("n1") == []
    assert chat.lose("n1") == []  # nothing left: a second report changes nothing
    assert chat.lose("never-seen") == []
    assert codes(chat.connect("a2", "alice", node="n2"), "a2") == ["001"]


def test_node_reset_is_exactly_once_too() -> None:
    chat = Chat()
    chat.reset("n1")
    reset = chat.log[-1][1]
    chat.users("alice")
    assert chat.apply(reset) == []
    assert chat.state.user_count() == 1
    assert chat.state.last_applied_seq(reset.session) == 1
