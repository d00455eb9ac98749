"""Accounts across nodes: register on one node, log in with SASL PLAIN on another, and
get the mail left meanwhile."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, sasl_client


def test_register_on_one_node_and_sasl_login_on_another(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    dave = IRCClient(nodes[0].irc_port, "dave")
    dave.send("REGISTER * * s3cret-enough")
    assert "REGISTER SUCCESS dave" in dave.expect("REGISTER SUCCESS", "FAIL REGISTER")
    dave.send("QUIT :moving")
    dave.close()

    # The account, not the nick, is what SASL logs in to.
    client = sasl_client(nodes[2].irc_port, "davey", "dave", "s3cret-enough", ["account-tag"])
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

    client = sasl_client(nodes[2].irc_port, "alice", "alice", "s3cret-enough", ["message-tags"])
    mail = client.expect("PRIVMSG alice :")
    assert mail.endswith(":bob!~bob@127.0.0.1 PRIVMSG alice :hello while you were away")
    assert f"msgid={msgid}" in mail
    welcome = next(i for i, line in enumerate(client.lines) if " 001 alice " in line)
    end_of_burst = next(i for i, line in enumerate(client.lines) if " 422 " in line)
    assert welcome < end_of_burst < client.lines.index(mail)
    client.close()
    bob.close()
