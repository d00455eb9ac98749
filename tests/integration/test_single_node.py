"""One real ``twistd chatnode`` process, driven over real sockets."""

from __future__ import annotations

import subprocess

from tests.integration.harness import TWISTD, IRCClient, Node, wait_for


def test_two_clients_chat_in_a_channel_and_privately(single_node: Node) -> None:
    alice = IRCClient(single_node.irc_port, "alice")
    bob = IRCClient(single_node.irc_port, "bob")
    alice.send("JOIN #room")
    alice.expect(" 366 ")
    bob.send("JOIN #room")
    bob.expect(" 366 ")
    alice.expect(":bob!")
    bob.send("PRIVMSG #room :hello room")
    assert alice.expect("PRIVMSG #room").endswith(":hello room")
    alice.send("PRIVMSG bob :hello bob")
    assert bob.expect("PRIVMSG bob").endswith(":hello bob")
    alice.close()
    bob.close()


def test_restart_keeps_channels_topics_modes_and_bans(single_node: Node) -> None:
    alice = IRCClient(single_node.irc_port, "alice")
    alice.send("JOIN #keep")
    alice.expect(" 366 ")
    alice.send("TOPIC #keep :a topic that lasts")
    alice.expect("TOPIC #keep")
    alice.send("MODE #keep +mk-t sesame")
    alice.expect("MODE #keep")
    alice.send("MODE #keep +b troll!*@*")
    alice.expect("+b")
    alice.close()

    single_node.stop()
    single_node.start()
    wait_for(lambda: (single_node.status() or {}).get("role") == "leader", 30, "restart")

    bob = IRCClient(single_node.irc_port, "bob")
    bob.send("JOIN #keep")
    assert " 475 " in bob.expect(" 475 ", " 366 ")  # the key survived
    bob.send("JOIN #keep sesame")
    assert "a topic that lasts" in bob.expect(" 332 ")
    bob.expect(" 366 ")
    bob.send("MODE #keep")
    modes = bob.expect(" 324 ").split(" 324 ", 1)[1]
    assert "m" in modes and "k" in modes and "t" not in modes.split()[1]
    bob.send("MODE #keep b")
    assert "troll!*@*" in bob.expect(" 367 ")
    bob.close()


def test_bad_input_gets_answers_while_others_chat(single_node: Node) -> None:
    alice = IRCClient(single_node.irc_port, "alice")
    bob = IRCClient(single_node.irc_port, "bob")
    hostile = IRCClient(single_node.irc_port)
    hostile.send_raw(b"PRIVMSG alice :\xff\xfe\r\n")
    assert "INVALID_UTF8" in hostile.expect("FAIL", " 451 ")
    hostile.send_raw(b"X" * 10000 + b"\r\n")
    assert " 417 " in hostile.expect(" 417 ")
    hostile.send_raw(b"NICK a\x00b\r\n")
    hostile.expect(" 400 ", " 417 ")
    hostile.send("JOIN #x")
    hostile.expect(" 451 ")
    bob.send("PRIVMSG alice :still fine")
    assert alice.expect("PRIVMSG alice").endswith(":still fine")
    for client in (alice, bob, hostile):
        client.close()


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [TWISTD, "chatnode", "--help"],
        capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0
    for option in (
        "--data-dir",
        "--irc",
        "--name",
        "--max-clients",
        "--flood-burst",
        "--flood-rate",
        "--peer",
        "--join",
        "--status",
    ):
        assert option in result.stdout


def test_bad_option_fails_with_one_clear_line() -> None:
    result = subprocess.run(
        [TWISTD, "-n", "chatnode", "--max-clients", "lots"],
        capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "--max-clients" in result.stdout + result.stderr
