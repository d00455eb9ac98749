"""RENAME on a real 3-node cluster: a capable client on one node and a plain one on another
each see the rename in their own form, and the history answers under the new name."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.harness import IRCClient, Node


def test_a_rename_reaches_capable_and_plain_clients_on_other_nodes(
    cluster_factory: Callable[..., list[Node]],
) -> None:
    nodes = cluster_factory(3)
    op = IRCClient(nodes[0].irc_port, "op", caps=("draft/channel-rename", "draft/chathistory",
                                                  "batch", "server-time"))  # fmt: skip
    modern = IRCClient(nodes[1].irc_port, "modern", caps=("draft/channel-rename",))
    plain = IRCClient(nodes[2].irc_port, "plain")
    for client in (op, modern, plain):
        client.send("JOIN #old")
        client.expect(" 366 ")
    op.send("PRIVMSG #old :before the rename")
    plain.expect("PRIVMSG #old :before the rename")
    op.send("RENAME #old #new :tidier")
    assert op.expect(" RENAME ").endswith(":op!~op@127.0.0.1 RENAME #old #new tidier")
    assert modern.expect(" RENAME ").endswith(" RENAME #old #new tidier")
    assert plain.expect(" PART ").endswith(":plain!~plain@127.0.0.1 PART #old :tidier")
    assert plain.expect(" JOIN ").endswith(":plain!~plain@127.0.0.1 JOIN #new")
    assert " 353 plain = #new :@op modern plain" in plain.expect(" 353 ")
    plain.expect(" 366 plain #new ")
    modern.send("PRIVMSG #new :after the rename")
    assert plain.expect("PRIVMSG").endswith("PRIVMSG #new :after the rename")
    op.expect("PRIVMSG #new :after the rename")
    op.send("CHATHISTORY LATEST #new * 10")
    op.expect("BATCH +")
    assert op.expect("PRIVMSG").endswith("PRIVMSG #new :before the rename")
    assert op.expect("PRIVMSG").endswith("PRIVMSG #new :after the rename")
    op.expect("BATCH -")
    modern.send("JOIN #old")  # the old name is free: a new, empty channel
    assert modern.expect(" 353 ").endswith(" 353 modern = #old @modern")
    for client in (op, modern, plain):
        client.close()
