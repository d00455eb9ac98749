"""Resume through real connections and hubs: same node, another node, a re-sent write."""

from __future__ import annotations

import base64

from tests.memorylog import Client, MemoryLog, Server

CAPS = ("twistedchat.org/resume", "labeled-response", "echo-message")


def token_of(client: Client) -> str:
    lines = [line for line in client.lines() if " RESUME TOKEN " in line]
    assert lines, client.lines()
    return lines[-1].rsplit(" ", 1)[1]


def registered_with_token(server: Server, nick: str) -> tuple[Client, str]:
    client = server.connect()
    client.send("CAP LS 302", f"CAP REQ :{' '.join(CAPS)}", f"NICK {nick}", f"USER {nick} 0 * :R")
    client.send("CAP END")
    assert client.has(" 001 ")
    token = token_of(client)
    client.clear()
    return client, token


def two_nodes() -> tuple[MemoryLog, Server, Server]:
    """Two hubs applying one log: nodes n1 and n2 of a cluster."""
    log = MemoryLog()
    one = Server("n1", log)
    return log, one, Server("n2", log, one.clock)


def in_channel(*clients: Client) -> None:
    """Everyone joins #a; the last one's lines are cleared (it watches for noise)."""
    for client in clients:
        client.send("JOIN #a")
    clients[-1].clear()


def resumed(server: Server, token: str) -> Client:
    client = server.connect()
    client.send("CAP LS 302", f"CAP REQ :{' '.join(CAPS)}", f"RESUME {token}", "CAP END")
    return client


def test_resume_on_the_same_node_after_the_connection_dropped() -> None:
    server = Server()
    alice, token = registered_with_token(server, "alice")
    bob = server.register("bob")
    in_channel(alice, bob)
    alice.connection_lost()
    again = resumed(server, token)
    lines = again.lines()
    assert any(" 001 alice " in line for line in lines), lines
    assert any(line.startswith(":alice!") and " JOIN #a" in line for line in lines), lines
    assert any(" 353 alice " in line and "@alice" in line for line in lines), lines
    assert lines[-1] == ":irc.test RESUME SUCCESS alice"
    assert token_of(again) != token
    assert bob.lines() == []  # no QUIT, no JOIN
    again.send("PRIVMSG #a :still here")
    assert len(bob.lines()) == 1 and bob.has("PRIVMSG #a :still here")


def test_without_a_resume_the_session_quits_after_the_grace_period() -> None:
    server = Server()
    alice, _ = registered_with_token(server, "alice")
    bob = server.register("bob")
    in_channel(alice, bob)
    alice.connection_lost()
    server.clock.advance(server.hub.resume_grace - 2)
    assert bob.lines() == []
    server.clock.advance(3)
    assert bob.has(":alice!~alice@") and bob.has("QUIT :Connection closed")


def test_resume_on_another_node_when_the_first_one_died() -> None:
    log, one, two = two_nodes()
    alice, token = registered_with_token(one, "alice")
    bob = two.register("bob")
    in_channel(alice, bob)
    log.hubs.remove(one.hub)  # n1 is gone, and with it alice's connection
    again = resumed(two, token)
    assert again.lines()[-1].endswith("RESUME SUCCESS alice")
    again.send("PRIVMSG #a :hello from n2")
    bob.send("PRIVMSG #a :welcome back")
    assert sum("PRIVMSG #a :hello from n2" in line for line in bob.lines()) == 1
    assert not bob.has("QUIT") and not bob.has("JOIN")
    assert again.has("welcome back")


def test_the_old_connection_is_closed_when_its_session_moves() -> None:
    _, one, two = two_nodes()
    alice, token = registered_with_token(one, "alice")
    bob = one.register("bob")
    in_channel(alice, bob)
    session = alice.protocol.session
    again = resumed(two, token)
    assert again.protocol.session == session
    assert one.hub.resumable_here() == 0 and two.hub.resumable_here() == 1
    assert alice.closed and alice.has("Session resumed")
    alice.connection_lost()
    one.clock.advance(one.hub.resume_grace + 5)
    assert not bob.has("QUIT")
    assert session in two.hub.sessions and session not in one.hub.sessions


def test_a_write_resent_after_a_resume_is_delivered_once() -> None:
    server = Server()
    alice, token = registered_with_token(server, "alice")
    bob = server.register("bob")
    in_channel(alice, bob)
    alice.send("@label=w1 PRIVMSG #a :exactly once")  # applied; say its ack got lost
    alice.connection_lost()
    again = resumed(server, token)
    again.clear()
    again.send("@label=w1 PRIVMSG #a :exactly once")
    assert again.lines() == ["@label=w1 :irc.test ACK"]
    assert sum("exactly once" in line for line in bob.lines()) == 1


def test_a_bad_token_falls_back_to_registration() -> None:
    server = Server()
    client = server.connect()
    client.send("CAP LS 302", f"CAP REQ :{CAPS[0]}", "RESUME nope", "NICK carol", "USER c 0 * :C")
    client.send("CAP END")
    assert client.has("FAIL RESUME INVALID_TOKEN")
    assert client.has(" 001 carol ")


def test_resume_needs_the_capability() -> None:
    server = Server()
    client = server.connect()
    client.send("RESUME whatever")
    assert client.has("FAIL RESUME INVALID_TOKEN")


def test_a_draining_node_asks_resumable_sessions_to_move() -> None:
    server = Server()
    alice, _ = registered_with_token(server, "alice")
    bob = server.register("bob")
    assert server.hub.drain("maintenance") == 1 and server.hub.resumable_here() == 1
    assert alice.lines() == [":irc.test RESUME MOVE maintenance"]
    assert bob.lines() == []  # it could not resume: it stays until the node goes
    alice.connection_lost()
    assert server.hub.resumable_here() == 1  # until its resume elsewhere is applied


def test_a_restarted_node_keeps_resumable_sessions_until_the_grace_runs_out() -> None:
    log, one, two = two_nodes()
    alice, token = registered_with_token(one, "alice")  # will resume on n2
    erin, _ = registered_with_token(one, "erin")  # will never come back
    carol = one.register("carol")  # not resumable: ends with the restart
    bob = two.register("bob")
    for client in (alice, erin, carol, bob):
        client.send("JOIN #a")
    bob.clear()
    log.hubs.remove(one.hub)  # n1 dies; a new run of n1 starts on the same log
    again = Server("n1", log, one.clock)
    assert bob.has(":carol!") and bob.has("QUIT :Node restarted")
    assert not bob.has(":alice!") and not bob.has(":erin!")
    resumed(two, token)
    again.clock.advance(again.hub.resume_grace + 2)
    assert bob.has(":erin!") and not bob.has(":alice!")


def test_a_plain_client_logged_in_to_the_account_reclaims_its_session() -> None:
    """irssi with SASL, reconnecting to another node while its old node is dead or
    hanging, gets its nick and channels back; nobody sees it leave or come back."""
    log, one, two = two_nodes()
    alice = one.register("alice")
    alice.send("REGISTER * * correct-horse")
    alice.send("JOIN #a")
    bob = two.register("bob")
    bob.send("JOIN #a")
    bob.clear()
    log.hubs.remove(one.hub)  # n1 hangs: alice's session is still there
    again = two.connect()
    again.send("CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER alice 0 * :Alice")
    assert not again.has(" 433 ")
    again.send("AUTHENTICATE PLAIN")
    again.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct-horse").decode())
    again.send("CAP END")
    # n1 is not marked down: the reclaim waits a little for that, then goes anyway
    assert again.has("Logging in to your session") and not again.has(" 001 ")
    two.clock.advance(two.hub.held_logins.wait + 1)
    lines = again.lines()
    assert any(" 001 alice " in line for line in lines), lines
    assert not again.has("*** Replaying")  # nobody knows where n1 stopped
    assert any(line.startswith(":alice!") and "JOIN #a" in line for line in lines), lines
    assert not again.has("RESUME")  # a plain client is not shown our extension
    assert bob.lines() == []
    again.send("PRIVMSG #a :back")
    assert bob.has(":alice!") and bob.has("PRIVMSG #a :back")


def test_a_reclaim_from_a_node_marked_down_replays_what_was_missed() -> None:
    """The leader marks n1 down while a plain client's session lingers there; logging
    in on n2 takes it back at once and replays what #a said since, after the channel
    state, with its original time for a client that negotiated server-time."""
    log, one, two = two_nodes()
    alice = one.register("alice")
    alice.send("REGISTER * * correct-horse")
    alice.send("JOIN #a")
    bob = two.register("bob")
    bob.send("JOIN #a", "PRIVMSG #a :before")
    assert alice.has("PRIVMSG #a :before")
    log.hubs.remove(one.hub)  # n1 dies
    two.hub.report_node_down("n1", len(log.entries))
    two.clock.advance(0)
    bob.send("PRIVMSG #a :while you were out", "NOTICE #a :and this")
    again = two.connect()
    again.send("CAP LS 302", "CAP REQ :sasl server-time", "NICK alice", "USER alice 0 * :A")
    again.send("AUTHENTICATE PLAIN")
    again.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct-horse").decode())
    again.send("CAP END")
    lines = again.lines()
    names = next(i for i, line in enumerate(lines) if " 366 alice #a " in line)
    notice = next(i for i, line in enumerate(lines) if "*** Replaying 2 lines" in line)
    tail = lines[notice + 1 :]
    assert names < notice and len(tail) == 2, lines
    assert tail[0].startswith("@time=") and tail[0].endswith("PRIVMSG #a :while you were out")
    assert tail[1].endswith("NOTICE #a :and this")
    assert not any("before" in line for line in lines)


def test_the_nick_of_another_account_is_not_reclaimed() -> None:
    server = Server()
    owner = server.register("owner")
    owner.send("REGISTER * * correct-horse")
    thief = server.connect()
    thief.send("NICK owner", "USER x 0 * :X")  # not logged in: the log says no
    assert thief.has(" 433 * owner ") and not thief.has(" 001 ")


def test_an_always_on_session_stays_when_its_client_goes_and_replays_at_the_next_login() -> None:
    _, one, two = two_nodes()
    alice = one.register("alice")
    alice.send("REGISTER * * correct-horse", "PRIVMSG NickServ :SET ALWAYS-ON ON")
    assert alice.has("ALWAYS-ON is on for alice")
    alice.send("JOIN #a")
    bob = two.register("bob", caps=("away-notify",))
    bob.send("JOIN #a")
    bob.clear()
    alice.connection_lost()  # no QUIT: the client's network went
    assert bob.lines() == [":alice!~alice@192.168.1.1 AWAY :Not connected (always-on)"]
    bob.send("PRIVMSG #a :one", "PRIVMSG alice :two")
    again = two.sasl_login("alice", "correct-horse")
    lines = again.lines()
    assert any(" 001 alice " in line for line in lines), lines
    notice = next(i for i, line in enumerate(lines) if "*** Replaying 2 lines" in line)
    assert [line.rsplit(" :", 1)[1] for line in lines[notice + 1 :]] == ["one", "two"]
    assert bob.has(":alice!~alice@192.168.1.1 AWAY") and not bob.has("QUIT")


def test_an_always_on_client_that_quits_is_detached_not_gone() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("REGISTER * * correct-horse", "PRIVMSG NickServ :SET ALWAYS-ON ON")
    alice.send("QUIT :see you")
    assert alice.has("ERROR")
    bob = server.register("bob")
    bob.send("WHOIS alice")
    assert bob.has(" 301 bob alice :Not connected (always-on)")


def test_a_node_that_sees_itself_marked_down_says_it_is_up() -> None:
    """A deposed leader back from a pause may mark live nodes down; each of them, applying
    that mark, clears it at once (a stale mark would replay too much to a reclaim)."""
    _, one, two = two_nodes()
    two.hub.report_node_down("n1", 3)
    two.clock.advance(0)
    assert one.hub.state.node_down_at("n1") == 0
    assert two.hub.state.node_down_at("n1") == 0


def test_a_rebalance_leaves_a_session_that_just_failed_over_alone() -> None:
    """The death of a node is what unbalances the cluster: the leader's next rebalance
    must not bounce the clients that just resumed elsewhere (found by the chaos suite)."""
    _, one, two = two_nodes()
    alice, token = registered_with_token(one, "alice")
    alice.connection_lost()
    again = resumed(two, token)
    assert again.lines()[-1].endswith("RESUME SUCCESS alice")
    two.hub.request_moves("n2", 1)
    two.clock.advance(0)
    assert not again.has("RESUME MOVE")
    two.clock.advance(11)
    two.hub.request_moves("n2", 1)
    two.clock.advance(0)
    assert again.has("RESUME MOVE")
