"""multi-prefix, userhost-in-names, extended-join, away-notify and setname on a real
3-node cluster: each client gets the form it asked for, whichever node it is on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import IRCClient, Node, sentinel

RICH = ("multi-prefix", "userhost-in-names", "extended-join", "away-notify", "setname")


def test_rich_and_plain_clients_on_other_nodes_see_their_own_forms(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    alice = IRCClient(nodes[0].irc_port, "alice", caps=RICH)
    rich = IRCClient(nodes[1].irc_port, "rich", caps=RICH)
    plain = IRCClient(nodes[2].irc_port, "plain")
    alice.send("JOIN #forms")
    alice.expect(" 366 ")
    alice.send("MODE #forms +v alice")
    alice.expect(" MODE #forms +v alice")
    for client in (rich, plain):
        client.send("JOIN #forms")
        client.expect(" 366 ")
    assert any(" 353 rich = #forms :@+alice!~alice@127.0.0.1 " in line for line in rich.lines)
    assert any(" 353 plain = #forms :@alice " in line for line in plain.lines)
    assert alice.expect(":plain!~plain@127.0.0.1 JOIN").endswith(" JOIN #forms * :plain test user")
    alice.send("AWAY :tea")
    alice.send("SETNAME :Alice Liddell")
    assert rich.expect(" AWAY ").endswith(":alice!~alice@127.0.0.1 AWAY :tea")
    assert rich.expect(" SETNAME ").endswith(":alice!~alice@127.0.0.1 SETNAME :Alice Liddell")
    alice.expect(" SETNAME :Alice Liddell")
    plain.lines.clear()
    sentinel(alice, "#forms", plain, rich)
    assert not any(" AWAY " in line or " SETNAME " in line for line in plain.lines)
    plain.send("WHO alice")
    assert plain.expect(" 352 ").endswith(" alice G :0 Alice Liddell")
    for client in (alice, rich, plain):
        client.close()


def test_a_node_with_a_password_file_asks_for_pass(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    secret = tmp_path / "server-password"
    secret.write_text("open-sesame\n")
    (node,) = cluster_factory(1, "--password-file", str(secret))
    stranger = IRCClient(node.irc_port)
    stranger.send("NICK x")
    stranger.send("USER x 0 * :X")
    assert " 464 x " in stranger.expect(" 464 ")
    assert stranger.expect("ERROR").startswith("ERROR :Closing Link")
    friend = IRCClient(node.irc_port)
    friend.send("PASS open-sesame")
    friend.register("friend")
    for client in (friend, stranger):
        client.close()


def test_monitor_on_one_node_sees_a_user_come_and_go_on_another(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    watcher = IRCClient(nodes[0].irc_port, "watcher")
    watcher.send("MONITOR + friend")
    assert watcher.expect(" 731 ").endswith(" 731 watcher friend")
    friend = IRCClient(nodes[2].irc_port, "friend")
    assert watcher.expect(" 730 ").endswith(" 730 watcher friend!~friend@127.0.0.1")
    friend.send("QUIT :later")
    assert watcher.expect(" 731 ").endswith(" 731 watcher friend")
    watcher.close()
    friend.close()
