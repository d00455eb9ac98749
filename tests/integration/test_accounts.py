"""Accounts across nodes: register on one node, log in with SASL PLAIN on another."""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.integration.harness import IRCClient, Node


def test_register_on_one_node_and_sasl_login_on_another(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    dave = IRCClient(nodes[0].irc_port, "dave")
    dave.send("REGISTER * * s3cret-enough")
    assert "REGISTER SUCCESS dave" in dave.expect("REGISTER SUCCESS", "FAIL REGISTER")
    dave.send("QUIT :moving")
    dave.close()

    client = IRCClient(nodes[2].irc_port)
    client.send("CAP LS 302")
    client.send("CAP REQ :sasl account-tag")
    client.expect(" ACK ")
    client.send("NICK davey")  # the account, not the nick, is what SASL logs in to
    client.send("USER dave 0 * :Dave")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    client.send("AUTHENTICATE " + base64.b64encode(b"\0dave\0s3cret-enough").decode())
    client.expect(" 903 ")
    client.send("CAP END")
    client.expect(" 001 ")
    observer = IRCClient(nodes[1].irc_port, "observer")
    observer.send("WHOIS davey")
    assert " 330 observer davey dave " in observer.expect(" 330 ", " 318 ")
    client.close()
    observer.close()
