"""draft/metadata-3 on a real cluster: a key set on one node reaches a subscriber on
another, and a subscriber that joins later gets it in the JOIN's metadata batch."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node, sentinel

CAPS = ("draft/metadata-3", "batch")


def test_a_key_set_on_one_node_reaches_subscribers_on_others(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    setter = IRCClient(nodes[0].irc_port, "setter", caps=CAPS)
    subscriber = IRCClient(nodes[1].irc_port, "sub", caps=CAPS)
    bystander = IRCClient(nodes[2].irc_port, "bystander", caps=CAPS)  # not subscribed
    subscriber.send("METADATA * SUB status")
    subscriber.expect(" 770 sub status")
    for client in (setter, subscriber, bystander):
        client.send("JOIN #meta")
        client.expect(" 366 ")
    bystander.lines.clear()
    setter.send("METADATA * SET status :out for lunch")
    assert setter.expect(" 761 ").endswith(" 761 setter setter status * :out for lunch")
    assert subscriber.expect(" 761 ").endswith(" 761 sub setter status * :out for lunch")
    sentinel(setter, "#meta", bystander)
    assert not any(" 761 " in line for line in bystander.lines)
    late = IRCClient(nodes[2].irc_port, "late", caps=CAPS)
    late.send("METADATA * SUB status")
    late.expect(" 770 late status")
    late.send("JOIN #meta")
    assert late.expect(" 761 ").endswith(" 761 late setter status * :out for lunch")
    late.send("METADATA setter GET status")
    assert late.expect(" 761 ").endswith(" 761 late setter status * :out for lunch")
    for client in (setter, subscriber, bystander, late):
        client.close()
