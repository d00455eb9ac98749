"""What ``make run`` prints for connecting irssi and WeeChat to every node at once.

The real-client failover tests (tests/integration/test_client_failover.py) type these
same commands, with a nick and password filled in, into irssi and WeeChat.
"""

from __future__ import annotations

import socket
from pathlib import Path

from twistedchat.devcluster import (
    browser_setup,
    client_setup,
    cluster_is_up,
    irssi_commands,
    node_command,
    weechat_commands,
)

NODES = [("127.0.0.1", 6667), ("127.0.0.1", 6668), ("127.0.0.1", 6669)]


def test_irssi_gets_one_network_of_every_node_with_sasl_and_a_short_reconnect() -> None:
    assert irssi_commands(NODES, "alice", "s3cret-enough") == [
        "/set server_reconnect_time 1",
        "/network add -nick alice -sasl_mechanism PLAIN -sasl_username alice"
        " -sasl_password s3cret-enough twistedchat",
        "/server add -network twistedchat 127.0.0.1 6667",
        "/server add -network twistedchat 127.0.0.1 6668",
        "/server add -network twistedchat 127.0.0.1 6669",
        "/connect twistedchat",
    ]


def test_weechat_gets_one_server_of_every_address_with_sasl_and_a_short_reconnect() -> None:
    assert weechat_commands(NODES, "alice", "s3cret-enough") == [
        "/server add twistedchat 127.0.0.1/6667,127.0.0.1/6668,127.0.0.1/6669 -notls"
        " -nicks=alice -username=alice -sasl_mechanism=plain -sasl_username=alice"
        " -sasl_password=s3cret-enough -autoreconnect_delay=1",
        "/connect twistedchat",
    ]


def test_make_run_prints_both_with_the_nodes_addresses_and_placeholders() -> None:
    printed = client_setup(NODES)
    commands = [line.strip() for line in printed if line.startswith("    ")]
    assert commands == [*irssi_commands(NODES), *weechat_commands(NODES)]
    assert "/network add -nick NICK" in commands[1] and "-sasl_password PASSWORD" in commands[1]
    assert "twistedchat: irssi:" in printed and "twistedchat: WeeChat:" in printed
    assert any("/msg NickServ REGISTER PASSWORD" in line for line in printed)
    assert any("chatgateway" in line for line in printed)
    assert all(line.startswith(("twistedchat: ", "    ")) for line in printed)


def test_a_cluster_that_does_not_answer_is_not_up() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert not cluster_is_up([port])
    assert not cluster_is_up([])


def test_make_run_serves_the_web_client_on_every_node_and_prints_where() -> None:
    commands = [node_command(index, 3, Path("/data"), 6667) for index in (1, 2, 3)]
    webs = [command[command.index("--websocket") + 1] for command in commands]
    assert webs == [f"tcp:{port}:interface=127.0.0.1" for port in (8080, 8081, 8082)]
    assert browser_setup([8080, 8081, 8082], [8667, 8668, 8669]) == [
        "twistedchat: web client: http://127.0.0.1:8080/"
        " (or any node's: http://127.0.0.1:8081/, http://127.0.0.1:8082/)",
        "twistedchat: dashboard: http://127.0.0.1:8667/dashboard",
    ]
