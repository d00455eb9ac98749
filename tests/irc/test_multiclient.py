"""Multiclient through real connections and hubs: two clients of alice on two nodes."""

from __future__ import annotations

from tests.memorylog import Client, MemoryLog, Server


def alice_on_n1(caps: tuple[str, ...] = ()) -> tuple[MemoryLog, Server, Server, Client]:
    """Two nodes; alice registered (account alice) on n1, in #a."""
    log = MemoryLog()
    one = Server("n1", log)
    two = Server("n2", log, one.clock)
    laptop = one.register("alice", caps=caps)
    laptop.send("REGISTER * * correct-horse", "JOIN #a")
    return log, one, two, laptop


def alice_on_two_nodes() -> tuple[Server, Server, Client, Client, Client]:
    _, one, two, laptop = alice_on_n1()
    bob = two.register("bob")
    bob.send("JOIN #a")
    phone = two.sasl_login("alice", "correct-horse")
    for client in (laptop, phone, bob):
        client.clear()
    return one, two, laptop, phone, bob


def test_a_second_client_joins_at_once_when_the_first_ones_node_answers() -> None:
    _, _, two, laptop = alice_on_n1()
    phone = two.sasl_login("alice", "correct-horse")  # no clock advance: n1 answered
    lines = phone.lines()
    assert any(" 001 alice " in line for line in lines), lines
    assert any(line.startswith(":alice!") and " JOIN #a" in line for line in lines), lines
    assert any(" 353 alice = #a " in line and "@alice" in line for line in lines), lines
    assert not laptop.has("QUIT") and not laptop.has("ERROR")


def test_each_client_sees_what_the_other_sends_and_bob_sees_it_once() -> None:
    _, _, laptop, phone, bob = alice_on_two_nodes()
    phone.send("PRIVMSG #a :typed on the phone")
    assert laptop.lines() == [":alice!~alice@192.168.1.1 PRIVMSG #a :typed on the phone"]
    assert phone.lines() == []  # it did not ask for echo-message
    assert bob.lines() == [":alice!~alice@192.168.1.1 PRIVMSG #a :typed on the phone"]
    bob.send("PRIVMSG #a :hello both")
    assert laptop.has("hello both") and phone.has("hello both")


def test_a_join_shows_on_both_with_its_names_but_an_error_only_where_it_was_made() -> None:
    _, _, laptop, phone, _ = alice_on_two_nodes()
    phone.send("JOIN #b")
    assert laptop.has(":alice!~alice@192.168.1.1 JOIN #b") and laptop.has(" 366 alice #b ")
    phone.clear()
    laptop.clear()
    phone.send("PRIVMSG nobody :hi")
    assert phone.has(" 401 alice nobody ") and laptop.lines() == []


def test_one_client_leaving_is_not_seen_and_the_other_goes_on() -> None:
    _, _, laptop, phone, bob = alice_on_two_nodes()
    laptop.send("QUIT :switching to the phone")
    laptop.connection_lost()
    assert not bob.has("QUIT")
    phone.send("PRIVMSG #a :still here")
    assert bob.has("PRIVMSG #a :still here")
    phone.connection_lost()
    assert bob.has(":alice!~alice@192.168.1.1 QUIT :Connection closed")


def test_a_joining_client_with_read_marker_gets_each_channels_marker() -> None:
    _, _, two, laptop = alice_on_n1(caps=("draft/read-marker",))
    laptop.send("MARKREAD #a timestamp=2020-01-01T00:00:00.000Z")
    phone = two.sasl_login("alice", "correct-horse", caps="sasl draft/read-marker")
    lines = phone.lines()
    join = next(i for i, line in enumerate(lines) if " JOIN #a" in line)
    assert lines[join + 1].endswith("MARKREAD #a timestamp=2020-01-01T00:00:00.000Z"), lines


def test_identify_after_registration_is_a_login_only_while_the_accounts_user_is_live() -> None:
    _, _, two, laptop = alice_on_n1()
    bob = two.register("bob")
    bob.send("JOIN #a")
    phone = two.register("alice_")
    phone.clear()
    bob.clear()
    phone.send("PRIVMSG NickServ :IDENTIFY alice correct-horse")
    assert phone.has(" 900 alice_ ")  # n1 answered the probe: alice is there
    assert not phone.has(" NICK alice") and not phone.has(" JOIN #a")
    assert bob.lines() == [] and not laptop.has("QUIT")


def test_identify_after_registration_takes_a_dead_nodes_session_back_with_replay() -> None:
    log, one, two, _ = alice_on_n1()
    bob = two.register("bob")
    bob.send("JOIN #a")
    log.hubs.remove(one.hub)  # n1 dies and the leader marks it down
    two.hub.report_node_down("n1", len(log.entries))
    two.clock.advance(0)
    bob.send("PRIVMSG #a :while you were out")
    again = two.connect()
    again.send("NICK alice", "USER alice 0 * :A")
    assert again.has(" 433 * alice ")
    again.send("NICK alice_")
    again.clear()
    again.send("PRIVMSG NickServ :IDENTIFY alice correct-horse")
    lines = again.lines()
    assert any(line.endswith("NICK alice") for line in lines), lines
    notice = next(i for i, line in enumerate(lines) if "*** Replaying 1 lines" in line)
    assert lines[notice + 1].endswith("PRIVMSG #a :while you were out")
    again.send("PRIVMSG #a :back")
    assert bob.has(":alice!~alice@192.168.1.1 PRIVMSG #a :back")
    assert not bob.has("QUIT :Logged in")  # alice_ was in no channel


def test_a_held_identify_keeps_the_writes_sent_after_it_behind_it() -> None:
    log, one, two, _ = alice_on_n1()
    log.hubs.remove(one.hub)  # n1 dies; nobody marked it down yet
    again = two.register("alice_")
    again.clear()
    again.send("PRIVMSG NickServ :IDENTIFY alice correct-horse", "JOIN #later")
    assert again.has("checking where it is connected") and not again.has(" 900 ")
    two.hub.report_node_down("n1", len(log.entries))
    two.clock.advance(0)
    lines = again.lines()
    logged_in = next(i for i, line in enumerate(lines) if " 900 " in line)
    joined = next(i for i, line in enumerate(lines) if " JOIN #later" in line)
    assert logged_in < joined and lines[joined].startswith(":alice!"), lines
