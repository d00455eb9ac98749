"""draft/read-marker on a real cluster: two sessions of one account on two nodes stay in
step (one marks a message read, the other is told), and a later join gets the marker."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, sasl_client, sentinel

CAP = "draft/read-marker"
PASSWORD = "s3cret-enough"


def time_tag(line: str) -> str:
    assert line.startswith("@"), line
    tags = dict(tag.split("=", 1) for tag in line[1:].split(" ", 1)[0].split(";") if "=" in tag)
    return tags["time"]


def logged_in(port: int, nick: str) -> IRCClient:
    client = sasl_client(port, nick, "alice", PASSWORD, [CAP])
    client.expect(" 376 ", " 422 ")
    return client


def test_two_sessions_of_one_account_on_two_nodes_keep_one_read_marker(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    laptop = IRCClient(nodes[0].irc_port, "alice", caps=(CAP, "server-time"))
    laptop.send(f"REGISTER * * {PASSWORD}")
    assert "REGISTER SUCCESS alice" in laptop.expect("REGISTER SUCCESS", "FAIL REGISTER")
    laptop.send("JOIN #rm")
    assert laptop.expect(" MARKREAD ").endswith(" MARKREAD #rm *")
    laptop.expect(" 366 ")
    phone = logged_in(nodes[1].irc_port, "alice_phone")
    phone.send("JOIN #rm")
    marker = phone.expect(" MARKREAD ", " 366 ")
    assert marker.endswith(" MARKREAD #rm *"), marker  # before the end of NAMES
    phone.expect(" 366 ")

    bob = IRCClient(nodes[2].irc_port, "bob")
    bob.send("JOIN #rm")
    bob.expect(" 366 ")
    bob.send("PRIVMSG #rm :did you read this?")
    seen = time_tag(laptop.expect(" PRIVMSG #rm :did you read this?"))

    laptop.send(f"MARKREAD #rm timestamp={seen}")
    assert laptop.expect(" MARKREAD ").endswith(f" MARKREAD #rm timestamp={seen}")
    assert phone.expect(" MARKREAD ").endswith(f" MARKREAD #rm timestamp={seen}")

    # an older marker from the phone changes nothing: it is told the current one, the
    # laptop nothing
    phone.send("MARKREAD #rm timestamp=2001-01-01T00:00:00.000Z")
    assert phone.expect(" MARKREAD ").endswith(f" MARKREAD #rm timestamp={seen}")
    laptop.lines.clear()
    sentinel(bob, "#rm", laptop)
    assert not any(" MARKREAD " in line for line in laptop.lines)

    # a third client of the account, on the third node, asks and joins
    tablet = logged_in(nodes[2].irc_port, "alice_tablet")
    tablet.send("MARKREAD #RM")
    assert tablet.expect(" MARKREAD ").endswith(f" MARKREAD #rm timestamp={seen}")
    tablet.send("JOIN #rm")
    assert tablet.expect(" MARKREAD ", " 366 ").endswith(f" MARKREAD #rm timestamp={seen}")
    # bob, another account, has no marker of alice's
    bob.send("MARKREAD #rm")
    assert bob.expect(" MARKREAD ").endswith(" MARKREAD #rm *")
    for client in (laptop, phone, bob, tablet):
        client.close()
