"""OPER against the node's operator list, and KILL and WALLOPS for operators only."""

from __future__ import annotations

from tests.memorylog import Server
from twistedchat.chat.passwords import hash_password

OPERATORS = (("root", hash_password("s3cret-pass", b"s" * 16)),)


def test_oper_needs_the_right_password_and_is_never_logged() -> None:
    server = Server(operators=OPERATORS)
    alice = server.register("alice")
    alice.send("OPER root wrong")
    assert alice.has(" 464 alice :Password incorrect")
    alice.send("OPER nobody s3cret-pass")
    assert alice.has(" 464 alice ")
    alice.send("OPER root s3cret-pass")
    assert alice.has(" 381 alice ") and alice.has("MODE alice +o")
    alice.send("WHOIS alice")
    assert alice.has(" 313 alice alice :is an IRC operator")
    assert b"s3cret-pass" not in b"".join(server.log.entries)


def test_a_node_without_operators_says_so() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("OPER root s3cret-pass")
    assert alice.has(" 491 alice ")


def test_kill_is_for_operators_and_ends_the_victim_for_everyone() -> None:
    server = Server(operators=OPERATORS)
    alice, bob, carol = server.register("alice"), server.register("bob"), server.register("carol")
    for client in (alice, bob, carol):
        client.send("JOIN #a")
    bob.send("KILL carol :no")
    assert bob.has(" 481 bob ") and not carol.closed
    alice.send("OPER root s3cret-pass", "KILL carol :spamming")
    assert (
        carol.closed and carol.has("ERROR :Closing Link") and carol.has("Killed (alice (spamming))")
    )
    assert bob.has(":carol!~carol@") and bob.has("QUIT :Killed (alice (spamming))")
    carol.connection_lost()
    bob.send("WHOIS carol")
    assert bob.has(" 401 bob carol ")
    alice.send("MODE alice -o", "KILL bob")
    assert alice.has(" 481 alice ")


def test_cluster_requests_are_for_operators_and_reach_the_nodes() -> None:
    server = Server(operators=OPERATORS)
    asked: list[tuple[str, str]] = []
    server.hub.administer = lambda verb, node: asked.append((verb, node))
    alice = server.register("alice")
    mover = server.register("mover", caps=("twistedchat.org/resume",))
    alice.send("CLUSTER")
    assert alice.has("NOTE CLUSTER NODE n1 127.0.0.1:6667 :2 users")
    assert alice.has("NOTE CLUSTER END :1 nodes")
    alice.send("CLUSTER DRAIN n1")
    assert alice.has(" 481 alice ") and not mover.has("RESUME MOVE")
    alice.send("OPER root s3cret-pass", "CLUSTER DRAIN nowhere")
    assert alice.has(" 402 alice nowhere :No such node")
    alice.send("CLUSTER DRAIN n1", "CLUSTER TRANSFER n1", "CLUSTER REMOVE n1")
    assert mover.has("RESUME MOVE :This server is being drained by an operator")
    assert asked == [("TRANSFER", "n1"), ("REMOVE", "n1")]  # this hub leads


def test_wallops_is_for_operators_and_reaches_the_users_with_mode_w() -> None:
    server = Server(operators=OPERATORS)
    alice, bob, carol = server.register("alice"), server.register("bob"), server.register("carol")
    bob.send("MODE bob +w")
    assert bob.has("MODE bob +w")
    bob.send("MODE bob")
    assert bob.has(" 221 bob +w")
    carol.send("WALLOPS :not an operator")
    assert carol.has(" 481 carol ")
    alice.send("WALLOPS")
    assert alice.has(" 481 alice ")  # the privilege is checked before the parameters
    alice.send("OPER root s3cret-pass", "WALLOPS")
    assert alice.has(" 461 alice WALLOPS ")
    for client in (alice, bob, carol):
        client.clear()
    alice.send("WALLOPS :maintenance at noon")
    assert bob.lines() == [":alice!~alice@192.168.1.1 WALLOPS :maintenance at noon"]
    assert carol.lines() == [] and alice.lines() == []  # neither has +w
    bob.send("MODE bob -w")
    bob.clear()
    alice.send("MODE alice +w", "WALLOPS :again")
    assert alice.has(":alice!~alice@192.168.1.1 WALLOPS :again") and bob.lines() == []


def test_chghost_tells_peers_as_chghost_or_as_a_quit_and_rejoin() -> None:
    server = Server(operators=OPERATORS)
    root = server.register("root")
    bob = server.register("bob", caps=("chghost",))
    modern = server.register("modern", caps=("chghost",))
    plain = server.register("plain")
    bob.send("JOIN #a", "JOIN #b")
    for client in (modern, plain):
        client.send("JOIN #a")
    bob.send("CHGHOST bob cloak users/bob")
    assert bob.has(" 481 bob ")  # operators only
    root.send("OPER root s3cret-pass", "CHGHOST bob !bad users/bob")
    assert root.has(" 400 root CHGHOST :Invalid username or host")
    for client in (bob, modern, plain):
        client.clear()
    root.send("CHGHOST bob ~cloak users/bob")
    assert modern.lines() == [":bob!~bob@192.168.1.1 CHGHOST ~cloak users/bob"]
    assert plain.lines() == [
        ":bob!~bob@192.168.1.1 QUIT :Changing host",
        ":bob!~cloak@users/bob JOIN #a",
        ":bob!~cloak@users/bob MODE #a +o bob",  # bob made #a: its op status comes back
    ]
    assert bob.lines() == [
        ":bob!~bob@192.168.1.1 CHGHOST ~cloak users/bob",
        ":irc.test 396 bob users/bob :is now your displayed host",
    ]
    plain.send("WHOIS bob")
    assert plain.has(" 311 plain bob ~cloak users/bob * :")
