"""Accounts across nodes: register on one node, log in with SASL PLAIN on another, and
get the mail left meanwhile."""

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


def test_mail_for_an_offline_account_arrives_after_the_welcome_on_another_node(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    alice = IRCClient(nodes[0].irc_port, "alice")
    alice.send("REGISTER * * s3cret-enough")
    assert "REGISTER SUCCESS alice" in alice.expect("REGISTER SUCCESS", "FAIL REGISTER")
    alice.send("QUIT :later")
    alice.expect("ERROR ")
    alice.close()

    bob = IRCClient(nodes[1].irc_port, "bob", caps=("echo-message", "message-tags"))
    bob.send("PRIVMSG alice :hello while you were away")
    echo = bob.expect("PRIVMSG alice :", " 401 ")
    assert " 401 " not in echo  # kept, so echoed as any delivered PRIVMSG
    assert " 301 bob alice :alice is offline" in bob.expect(" 301 ", " 401 ")
    msgid = dict(tag.split("=", 1) for tag in echo[1:].split(" ", 1)[0].split(";"))["msgid"]

    client = IRCClient(nodes[2].irc_port)
    client.send("CAP LS 302")
    client.send("CAP REQ :sasl message-tags")
    client.expect(" ACK ")
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    client.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0s3cret-enough").decode())
    client.expect(" 903 ")
    client.send("CAP END")
    mail = client.expect("PRIVMSG alice :")
    assert mail.endswith(":bob!~bob@127.0.0.1 PRIVMSG alice :hello while you were away")
    assert f"msgid={msgid}" in mail
    welcome = next(i for i, line in enumerate(client.lines) if " 001 alice " in line)
    end_of_burst = next(i for i, line in enumerate(client.lines) if " 422 " in line)
    assert welcome < end_of_burst < client.lines.index(mail)
    client.close()
    bob.close()
