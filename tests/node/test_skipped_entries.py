"""A node that installs a snapshot replays to its users what the skipped entries said.

Two nodes share a memory log; the second stops applying it (a follower the leader left
behind its compacted log), then installs the first's state as a snapshot, as Raft's
InstallSnapshot does. Its users must not notice: every message of the gap reaches them,
once, in log order.
"""

from __future__ import annotations

from tests.irc.test_resume import registered_with_token, resumed
from tests.memorylog import Client, Server
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState


def _cluster() -> tuple[Server, Server]:
    leader = Server("n1")
    return leader, Server("n2", log=leader.log, clock=leader.clock)


def _falls_behind(node: Server) -> None:
    node.log.hubs.remove(node.hub)


def _installs_snapshot_of(node: Server, leader: Server) -> None:
    state = ChatState.restore(leader.hub.state.snapshot(), ChatLimits())
    node.hub.restore_state(state, len(leader.log.entries))
    node.log.hubs.append(node.hub)


def _said(client: Client) -> list[str]:
    return [line.rsplit(" :", 1)[-1] for line in client.lines() if " PRIVMSG " in line]


def test_channel_messages_of_the_gap_reach_the_lagging_nodes_users_in_order() -> None:
    leader, lagging = _cluster()
    alice = leader.register("alice")
    bob = lagging.register("bob", caps=("message-tags",))
    alice.send("JOIN #x")
    bob.send("JOIN #x")
    alice.send("PRIVMSG #x :before")
    _falls_behind(lagging)
    for n in range(3):
        alice.send(f"PRIVMSG #x :gap {n}")
    assert _said(bob) == ["before"]
    _installs_snapshot_of(lagging, leader)
    alice.send("PRIVMSG #x :after")
    assert _said(bob) == ["before", "gap 0", "gap 1", "gap 2", "after"]
    msgids = [line.split("msgid=")[1].split(";")[0].split(" ")[0]
              for line in bob.lines() if " PRIVMSG " in line]  # fmt: skip
    assert len(set(msgids)) == 5


def test_private_messages_joins_and_own_echoes_of_the_gap_are_replayed() -> None:
    leader, lagging = _cluster()
    alice = leader.register("alice")
    bob = lagging.register("bob", caps=("echo-message",))
    bob.send("JOIN #x")
    _falls_behind(lagging)
    alice.send("PRIVMSG bob :psst")
    alice.send("JOIN #x")
    bob.send("PRIVMSG #x :said while behind")  # committed; the lagging node never applies it
    assert not bob.has("said while behind")
    _installs_snapshot_of(lagging, leader)
    lines = bob.lines()
    assert any(line.endswith("PRIVMSG bob :psst") for line in lines), lines
    assert any(" JOIN #x" in line and line.startswith(":alice!") for line in lines), lines
    assert any(line.startswith(":bob!") and "said while behind" in line for line in lines)


def test_nothing_after_a_kick_and_nothing_before_a_join_in_the_gap() -> None:
    leader, lagging = _cluster()
    alice = leader.register("alice")
    bob = lagging.register("bob")
    alice.send("JOIN #x", "JOIN #y")
    bob.send("JOIN #x")
    _falls_behind(lagging)
    alice.send("PRIVMSG #y :before bob came")
    alice.send("PRIVMSG #x :last words", "KICK #x bob :out", "PRIVMSG #x :after the kick")
    _installs_snapshot_of(lagging, leader)
    assert _said(bob) == ["last words"]
    assert bob.has("KICK #x bob :out")


def test_a_user_who_resumed_elsewhere_during_the_gap_is_let_go() -> None:
    leader, lagging = _cluster()
    bob, token = registered_with_token(lagging, "bob")
    carol = lagging.register("carol")
    _falls_behind(lagging)
    resumed(leader, token)
    _installs_snapshot_of(lagging, leader)
    assert bob.closed
    assert not carol.closed


def test_repeated_move_requests_each_ask_another_session() -> None:
    server = Server()
    clients = [server.register(f"u{n}", caps=("twistedchat.org/resume",)) for n in range(3)]
    for _ in range(2):
        server.hub.request_moves("n1", 1)
        server.clock.advance(0)
    asked = [client for client in clients if client.has("RESUME MOVE")]
    assert len(asked) == 2
    assert sum(line.count("RESUME MOVE") for line in asked[0].lines()) == 1


def test_a_registration_answered_inside_the_gap_is_closed_not_left_hanging() -> None:
    leader, lagging = _cluster()
    _falls_behind(lagging)
    dave = lagging.connect()
    dave.send("NICK dave", "USER dave 0 * :Dave")  # committed; its welcome is never built here
    assert not dave.has(" 001 ")
    _installs_snapshot_of(lagging, leader)
    assert dave.closed
    assert dave.has("ERROR :Closing Link")
    lagging.clock.advance(0)
    assert not leader.hub.state.nick_in_use("dave")  # its QUIT went through the log


def test_a_session_resumed_to_the_node_inside_the_gap_waits_for_its_client() -> None:
    leader, lagging = _cluster()
    bob, token = registered_with_token(leader, "bob")
    bob.connection_lost()
    _falls_behind(lagging)
    again = resumed(lagging, token)  # committed; the lagging node never adopts the session
    _installs_snapshot_of(lagging, leader)
    assert again.closed
    lagging.clock.advance(lagging.hub.resume_grace + 2)
    assert not leader.hub.state.nick_in_use("bob")  # nobody resumed it: it quit


def test_both_clients_of_a_user_on_the_lagging_node_get_the_gap_once_each() -> None:
    leader, lagging = _cluster()
    carol = leader.register("carol")
    laptop = lagging.register("alice")
    laptop.send("REGISTER * * correct-horse", "JOIN #x")
    phone = lagging.sasl_login("alice", "correct-horse")
    carol.send("JOIN #x")
    assert phone.has(" 001 alice ")
    laptop.clear()
    phone.clear()
    _falls_behind(lagging)
    carol.send("PRIVMSG #x :gap")
    _installs_snapshot_of(lagging, leader)
    carol.send("PRIVMSG #x :after")
    assert _said(laptop) == ["gap", "after"] and _said(phone) == ["gap", "after"]
