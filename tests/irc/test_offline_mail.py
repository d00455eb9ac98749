"""Mail for an offline account, through a real connection and hub: the sender's replies,
and delivery after the welcome burst (SASL) or outside the labelled answer (IDENTIFY)."""

from __future__ import annotations

import base64

import pytest

from tests.memorylog import Client, Server

PASSWORD = "correct-horse"


@pytest.fixture
def server() -> Server:
    """alice registered and left."""
    server = Server()
    alice = server.register("alice")
    alice.send(f"REGISTER * * {PASSWORD}", "QUIT :bye")
    assert alice.has("REGISTER SUCCESS alice") and alice.closed
    return server


def tags_of(line: str) -> dict[str, str]:
    assert line.startswith("@"), line
    return dict(tag.split("=", 1) for tag in line[1:].split(" ", 1)[0].split(";"))


def leave_mail(server: Server, *texts: str) -> list[dict[str, str]]:
    """bob messages alice; returns the tags of his echoes."""
    bob = server.register("bob", ("echo-message", "server-time", "message-tags"))
    for text in texts:
        bob.send(f"PRIVMSG alice :{text}")
    echoes = [line for line in bob.lines() if " PRIVMSG alice :" in line]
    assert len(echoes) == len(texts)
    return [tags_of(line) for line in echoes]


def test_the_sender_gets_a_labelled_echo_and_rpl_away() -> None:
    server = Server()
    alice = server.register("alice")
    alice.send(f"REGISTER * * {PASSWORD}", "QUIT :bye")
    bob = server.register("bob", ("echo-message", "labeled-response", "batch"))
    bob.send("@label=m1 PRIVMSG alice :see you")
    lines = bob.lines()
    assert lines[0].startswith("@label=m1 ") and " BATCH +" in lines[0]
    assert any(line.endswith("PRIVMSG alice :see you") for line in lines[1:-1])
    assert any(" 301 bob alice :alice is offline; " in line for line in lines[1:-1])
    assert not any(" 401 " in line for line in lines)


def test_sasl_login_gets_the_mail_after_the_welcome_burst(server: Server) -> None:
    sent = leave_mail(server, "first", "second")
    client = server.connect()
    client.send("CAP LS 302", "CAP REQ :sasl server-time message-tags")
    client.send("NICK alice", "USER alice 0 * :Alice", "AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode())
    client.send("CAP END")
    lines = client.lines()
    end_of_burst = next(i for i, line in enumerate(lines) if " 422 alice " in line)
    mail = [(i, line) for i, line in enumerate(lines) if " PRIVMSG alice :" in line]
    assert [line.split(" PRIVMSG alice :")[1] for _, line in mail] == ["first", "second"]
    assert all(i > end_of_burst for i, _ in mail)
    got = [tags_of(line) for _, line in mail]
    assert [(t["msgid"], t["time"]) for t in got] == [(t["msgid"], t["time"]) for t in sent]
    assert all(line.split()[1].startswith(":bob!~bob@") for _, line in mail)


def identify(client: Client, label: str) -> list[str]:
    client.send(f"@label={label} PRIVMSG NickServ :IDENTIFY alice {PASSWORD}")
    return client.lines()


def test_identify_gets_the_mail_outside_the_labelled_answer(server: Server) -> None:
    leave_mail(server, "while you were out")
    guest = server.register("guest", ("labeled-response", "batch"))
    lines = identify(guest, "id1")
    assert " 900 guest " in lines[0] and lines[0].startswith("@label=id1 ")
    assert lines[1:] == [":bob!~bob@192.168.1.1 PRIVMSG alice :while you were out"]
    assert identify(server.register("again", ("labeled-response",)), "id2")[1:] == []


def test_taking_a_registered_nick_at_connect_is_warned_after_the_welcome(server: Server) -> None:
    """The NickServ warning is not an answer to the registration (which only yields the
    welcome burst): it arrives after it, like the mail."""
    client = server.connect()
    client.send("NICK alice", "USER alice 0 * :Alice")
    lines = client.lines()
    end_of_burst = next(i for i, line in enumerate(lines) if " 422 alice " in line)
    assert "NickServ" in lines[end_of_burst + 1] and "is a registered account" in lines[-1]
