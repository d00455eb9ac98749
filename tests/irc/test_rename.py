"""RENAME through a connection: a capable client gets RENAME, a plain one PART, JOIN, NAMES."""

from __future__ import annotations

from tests.memorylog import Server


def test_capable_members_get_rename_and_plain_members_part_and_join() -> None:
    server = Server()
    op = server.register("op", caps=("draft/channel-rename",))
    modern = server.register("modern", caps=("draft/channel-rename",))
    plain = server.register("plain")
    for client in (op, modern, plain):
        client.send("JOIN #old")
    op.send("TOPIC #old :kept")
    plain.send("RENAME #old #new tidier")
    assert plain.has(" 482 plain #old :You're not channel operator")
    for client in (op, modern, plain):
        client.clear()
    op.send("RENAME #old #new tidier")
    assert op.lines() == [":op!~op@192.168.1.1 RENAME #old #new tidier"]
    assert modern.lines() == [":op!~op@192.168.1.1 RENAME #old #new tidier"]
    lines = plain.lines()
    assert lines[:3] == [
        ":plain!~plain@192.168.1.1 PART #old :tidier",
        ":plain!~plain@192.168.1.1 JOIN #new",
        ":irc.test 332 plain #new kept",
    ]
    assert lines[4:] == [
        ":irc.test 353 plain = #new :@op modern plain",
        ":irc.test 366 plain #new :End of /NAMES list",
    ]
    plain.clear()
    modern.send("PRIVMSG #new :hello")
    assert plain.lines() == [":modern!~modern@192.168.1.1 PRIVMSG #new :hello"]
    op.send("RENAME #new #NEW")  # a change of case: the plain client hears nothing
    assert modern.has("RENAME #new #NEW :") and plain.lines() == [
        ":modern!~modern@192.168.1.1 PRIVMSG #new :hello"
    ]


def test_the_capability_is_offered() -> None:
    server = Server()
    client = server.connect()
    client.send("CAP LS 302")
    assert client.has("draft/channel-rename")
