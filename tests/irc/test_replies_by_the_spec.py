"""Replies the specifications spell out, over a connection: ERROR, messages to oneself."""

from __future__ import annotations

from tests.irc.test_login_checks import plain, sasl_client, with_account
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


def test_register_before_connection_registration_is_refused_as_the_spec_says() -> None:
    server = Server()
    client = server.connect()
    client.send("REGISTER * * long-password")
    assert client.lines() == [
        ":irc.test FAIL REGISTER COMPLETE_CONNECTION_REQUIRED * "
        ":Complete connection registration (NICK and USER) before REGISTER"
    ]


def test_sasl_after_a_sasl_login_is_907() -> None:
    server = Server()
    with_account(server)
    client = sasl_client(server)
    client.send(plain("carol", "correct-horse"), "CAP END")
    assert client.has(" 903 carol ") and client.has(" 001 carol ")
    client.clear()
    client.send("AUTHENTICATE PLAIN")
    assert client.has(" 907 ") and client.has("You have already authenticated")


def test_nickserv_answers_a_registration_as_nickserv() -> None:
    server = Server()
    weechat = server.register("wee")  # no draft/account-registration negotiated
    weechat.send("PRIVMSG NickServ :REGISTER long-enough-pw")
    lines = weechat.lines()
    welcome = ":NickServ!NickServ@services. NOTICE wee :Account wee registered; you are now "
    assert welcome + "logged in as wee." in lines
    assert not any(" REGISTER SUCCESS " in line or "FAIL REGISTER" in line for line in lines)
    weechat.send("PRIVMSG NickServ :REGISTER another-password")
    assert weechat.lines()[-1] == (
        ":NickServ!NickServ@services. NOTICE wee :You are already logged in."
    )


def test_the_minimum_password_length_is_the_operators_choice() -> None:
    server = Server(min_password=12)
    bob = server.register("bob", caps=("draft/account-registration",))
    bob.send("REGISTER * * elevenchars")
    assert bob.has("FAIL REGISTER WEAK_PASSWORD bob :Passwords need 12 or more characters")
    bob.send("PRIVMSG NickServ :REGISTER elevenchars")
    assert bob.lines()[-1].endswith("NOTICE bob :Passwords need 12 or more characters.")
    bob.send("REGISTER * * twelve-chars")
    assert bob.has("REGISTER SUCCESS bob")


def test_custom_account_names_are_advertised() -> None:
    client = Server().connect()
    client.send("CAP LS 302")
    assert any("draft/account-registration=custom-account-name" in x for x in client.lines())


def test_info_says_what_the_server_is() -> None:
    server = Server()
    me = server.register("me")
    me.send("INFO")
    lines = me.lines()
    assert all(" 371 me :" in line for line in lines[:-1]) and len(lines) > 2
    assert lines[-1] == ":irc.test 374 me :End of INFO list"


def test_help_answers_with_its_numerics_and_524_for_no_such_topic() -> None:
    server = Server()
    me = server.register("me")
    me.send("HELP")
    lines = me.lines()
    assert lines[0].startswith(":irc.test 704 me * :") and lines[-1].endswith(
        " 706 me * :End of /HELP"
    )
    me.clear()
    me.send("HELPOP join")
    assert me.lines()[0].startswith(":irc.test 704 me JOIN :JOIN <#channel>")
    me.clear()
    me.send("HELP FLY")
    assert me.lines() == [":irc.test 524 me FLY :No help available on this topic"]


def test_statusmsg_is_advertised() -> None:
    server = Server()
    client = server.connect()
    client.send("NICK me", "USER me 0 * :Me")
    assert any(" 005 " in line and " STATUSMSG=@+ " in line for line in client.lines())


def test_a_server_password_must_come_with_pass_before_registration() -> None:
    server = Server(server_password="open-sesame")
    stranger = server.connect()
    stranger.send("NICK x", "USER x 0 * :X")
    assert stranger.lines() == [
        ":irc.test 464 x :Password incorrect",
        "ERROR :Closing Link: 192.168.1.1 (Bad password)",
    ]
    assert stranger.closed
    wrong = server.connect()
    wrong.send("PASS open", "NICK y", "USER y 0 * :Y")
    assert wrong.closed and wrong.has(" 464 y ")
    friend = server.connect()
    friend.send("PASS open-sesame", "NICK z", "USER z 0 * :Z")
    assert friend.has(" 001 z ") and not friend.closed
