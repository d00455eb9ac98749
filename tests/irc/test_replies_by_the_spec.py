"""Replies the specifications spell out, over a connection: ERROR, messages to oneself."""

from __future__ import annotations

from tests.memorylog import Server


def test_error_is_sent_without_a_source() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send("QUIT :bye")
    assert alice.lines()[-1] == "ERROR :Closing Link: 192.168.1.1 (Quit)"


def test_a_message_to_oneself_is_the_labelled_echo_then_the_message() -> None:
    server = Server()
    me = server.register("me", caps=("echo-message", "labeled-response", "message-tags"))
    me.send("@label=n1 PRIVMSG me :note")
    echo, copy = me.lines()
    assert "label=n1" in echo.split(" ")[0] and echo.endswith(
        ":me!~me@192.168.1.1 PRIVMSG me :note"
    )
    assert "label=" not in copy and copy.endswith(" PRIVMSG me :note")
    msgid = [t for t in echo[1:].split(" ")[0].split(";") if t.startswith("msgid=")]
    assert msgid and msgid[0] in copy  # one message, two copies


def test_without_echo_a_labelled_message_to_oneself_is_acked_then_delivered() -> None:
    server = Server()
    me = server.register("me", caps=("labeled-response",))
    me.send("@label=n2 PRIVMSG me :note")
    assert me.lines() == ["@label=n2 :irc.test ACK", ":me!~me@192.168.1.1 PRIVMSG me :note"]
    plain = server.register("plain")
    plain.send("PRIVMSG plain :note")
    assert plain.lines() == [":plain!~plain@192.168.1.1 PRIVMSG plain :note"]


def test_an_unknown_command_is_a_labelled_421_even_with_digits_or_underscores() -> None:
    server = Server()
    me = server.register("me", caps=("labeled-response",))
    for word in ("FOO_BAR", "X1", "BOGUS"):
        me.clear()
        me.send(f"@label=u {word} x")
        assert me.lines() == [f"@label=u :irc.test 421 me {word} :Unknown command"]
