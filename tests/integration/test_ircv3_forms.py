"""multi-prefix, userhost-in-names, extended-join, away-notify, setname, MONITOR with
extended-monitor, no-implicit-names, WALLOPS and UTF8ONLY on real clusters: each client
gets the form it asked for, whichever node it is on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import IRCClient, Node, sentinel
from twistedchat.chat.passwords import hash_password

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


def test_extended_monitor_no_implicit_names_wallops_and_utf8only_across_nodes(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3, "--oper", f"root:{hash_password('oper-secret-pw', b's' * 16)}")
    caps = ("extended-monitor", "away-notify", "draft/no-implicit-names")
    watcher = IRCClient(nodes[0].irc_port, "watcher", caps=caps)
    friend = IRCClient(nodes[2].irc_port, "friend")
    watcher.send("MONITOR + friend")
    watcher.expect(" 730 watcher friend!")
    watcher.send("WHOIS friend")  # 312 names friend's node, not the one asked
    assert f" 312 watcher friend localhost.{nodes[2].irc_port} :" in watcher.expect(" 312 ")
    friend.send("AWAY :walking the dog")  # they share no channel: told through MONITOR
    assert watcher.expect(" AWAY ").endswith(":friend!~friend@127.0.0.1 AWAY :walking the dog")
    friend.send("JOIN #quiet")
    friend.expect(" 366 ")
    watcher.send("JOIN #quiet")
    watcher.expect(" JOIN #quiet")
    watcher.send("NAMES #quiet")  # asked for: answered; the JOIN's own were left out
    assert watcher.expect(" 353 ").endswith(" 353 watcher = #quiet :@friend watcher")
    assert not any(" 353 " in line for line in watcher.lines[:-1])
    friend.send("MODE friend +w")
    friend.expect("MODE friend +w")
    watcher.send("OPER root oper-secret-pw")
    watcher.expect(" 381 ")
    watcher.send("WALLOPS :a word to the wise")
    assert friend.expect(" WALLOPS ").endswith(
        ":watcher!~watcher@127.0.0.1 WALLOPS :a word to the wise"
    )
    watcher.send("CHGHOST friend ~f cloak/friend")  # watcher (no chghost) sees a rejoin
    assert friend.expect(" 396 ").endswith(" 396 friend cloak/friend :is now your displayed host")
    assert watcher.expect(" JOIN #quiet").startswith(":friend!~f@cloak/friend JOIN #quiet")
    friend.send_raw(b"PRIVMSG #quiet :caf\xe9\r\n")
    assert " FAIL PRIVMSG INVALID_UTF8 :Message rejected" in friend.expect("INVALID_UTF8")
    for client in (watcher, friend):
        client.close()


def test_a_multiline_batch_reaches_other_nodes_as_a_batch_or_as_lines(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    alice = IRCClient(nodes[0].irc_port, "alice", caps=("draft/multiline", "batch"))
    modern = IRCClient(nodes[1].irc_port, "modern", caps=("draft/multiline", "batch"))
    plain = IRCClient(nodes[2].irc_port, "plain")
    for client in (alice, modern, plain):
        client.send("JOIN #ml")
        client.expect(" 366 ")
    sentinel(alice, "#ml", modern, plain)  # everyone has seen everyone join
    alice.send("BATCH +b1 draft/multiline #ml")
    alice.send("@batch=b1 PRIVMSG #ml :roses are red")
    alice.send("@batch=b1 PRIVMSG #ml :violets ")
    alice.send("@batch=b1;draft/multiline-concat PRIVMSG #ml :are blue")
    alice.send("BATCH -b1")
    opening = modern.expect(" BATCH +")
    assert opening.endswith(" draft/multiline #ml")
    ref = opening.split(" BATCH +", 1)[1].split(" ")[0]
    texts = [modern.expect(f"@batch={ref}").split(" PRIVMSG #ml :", 1)[1] for _ in range(2)]
    assert texts == ["roses are red", "violets are blue"]
    assert modern.expect(" BATCH -").endswith(f" BATCH -{ref}")
    assert plain.expect(" PRIVMSG #ml ").endswith(":roses are red")
    assert plain.expect(" PRIVMSG #ml ").endswith(":violets are blue")
    for client in (alice, modern, plain):
        client.close()
