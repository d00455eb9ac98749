"""Ban exceptions and extbans on a real node: +b with +e lets the excepted user in and
keeps the other out, an account exception ($a) lets a user in once logged in, and a
mute ($m) lets its user join but not speak until voiced."""

from __future__ import annotations

from tests.integration.harness import IRCClient, Node, sentinel


def test_exceptions_and_a_mute_on_a_real_node(single_node: Node) -> None:
    port = single_node.irc_port
    op = IRCClient(port, "op")
    isupport = " ".join(line for line in op.lines if " 005 " in line)
    for token in ("CHANMODES=beI,", "EXCEPTS=e", "INVEX=I", "EXTBAN=$,am", "MAXLIST=beI:"):
        assert f" {token}" in isupport, isupport
    op.send("JOIN #guarded")
    op.expect(" 366 ")
    op.send("MODE #guarded +be *!*@127.0.0.1 friend")  # everyone here comes from 127.0.0.1
    assert op.expect(" MODE #guarded ").endswith(" MODE #guarded +be *!*@127.0.0.1 friend!*@*")

    friend = IRCClient(port, "friend")
    stranger = IRCClient(port, "stranger")
    friend.send("JOIN #guarded")
    friend.expect(" 366 ")
    stranger.send("JOIN #guarded")
    assert " 474 stranger #guarded " in stranger.expect(" 474 ", " 366 ")

    stranger.send("REGISTER * * s3cret-enough")
    assert "REGISTER SUCCESS stranger" in stranger.expect("REGISTER SUCCESS", "FAIL REGISTER")
    op.send("MODE #guarded +e $a:stranger")
    op.expect(" MODE #guarded +e $a:stranger")
    stranger.send("JOIN #guarded")
    stranger.expect(" 366 ")
    op.send("MODE #guarded e")
    listed = [op.expect(" 348 ", " 349 ") for _ in range(3)]
    assert [line.split()[1:5] for line in listed] == [
        ["348", "op", "#guarded", "friend!*@*"],
        ["348", "op", "#guarded", "$a:stranger"],
        ["349", "op", "#guarded", ":End"],
    ]
    friend.send("MODE #guarded e")  # the exceptions are for operators to see
    assert " 482 friend #guarded " in friend.expect(" 482 ", " 349 ")

    op.send("JOIN #quiet")
    op.expect(" 366 ")
    op.send("MODE #quiet +b $m:hush!*@*")
    op.expect(" MODE #quiet +b $m:hush!*@*")
    hush = IRCClient(port, "hush")
    hush.send("JOIN #quiet")
    hush.expect(" 366 ")  # a mute does not keep anyone out
    friend.send("JOIN #quiet")
    friend.expect(" 366 ")
    hush.send("PRIVMSG #quiet :can anyone hear me")
    assert " 404 hush #quiet " in hush.expect(" 404 ")
    sentinel(friend, "#quiet", op)
    assert not any("can anyone hear me" in line for line in op.lines)
    op.send("MODE #quiet +v hush")
    hush.expect(" MODE #quiet +v hush")
    hush.send("PRIVMSG #quiet :now you can")
    line = op.expect(" PRIVMSG #quiet ")
    assert line.startswith(":hush!~hush@127.0.0.1 ") and line.endswith(" :now you can")
    for client in (op, friend, stranger, hush):
        client.close()
