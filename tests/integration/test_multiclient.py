"""Multiclient on real nodes: alice logged in from two clients on two nodes."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, sasl_client


def test_a_second_client_on_another_node_shares_the_nick_and_sees_the_first_ones_lines(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    first, second, third = cluster_factory(3)
    laptop = IRCClient(first.irc_port, "alice")
    laptop.send("REGISTER * * s3cret-enough")
    laptop.expect("REGISTER SUCCESS")
    laptop.send("JOIN #m")
    laptop.expect(" 366 ")
    bob = IRCClient(third.irc_port, "bob")
    bob.send("JOIN #m")
    bob.expect(" 366 ")
    phone = sasl_client(second.irc_port, "alice", "alice", "s3cret-enough")
    phone.expect(" 001 alice ", timeout=5)  # the laptop's node answered: no long wait
    assert "alice" in phone.expect(" 353 ")
    phone.send("PRIVMSG #m :from the phone")
    assert "from the phone" in laptop.expect("PRIVMSG #m")
    assert "from the phone" in bob.expect("PRIVMSG #m")
    laptop.send("PRIVMSG #m :from the laptop")
    assert "from the laptop" in phone.expect("PRIVMSG #m")
    bob.send("PRIVMSG alice :to both")
    assert "to both" in laptop.expect("PRIVMSG alice")
    assert "to both" in phone.expect("PRIVMSG alice")
    laptop.send("QUIT :bye")
    laptop.expect("ERROR")
    bob.send("PRIVMSG #m :still?")
    assert "still?" in phone.expect("PRIVMSG #m")
    bob.send("WHOIS alice")
    assert " 318 " in bob.expect(" 301 ", " 318 ")  # not away: the phone is there
    assert not any(" QUIT " in line for line in bob.lines)
    for client in (laptop, phone, bob):
        client.close()
