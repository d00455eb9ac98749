"""The gateway's side facing the IRC client: registration, CAP, SASL, labels, echoes."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from twisted.internet.testing import StringTransport

from twistedchat.client.session import (
    Event,
    Identity,
    Incoming,
    LoginFailed,
    Registered,
    Reply,
    SessionLost,
)
from twistedchat.gateway.protocol import GatewayConnection
from twistedchat.irc.sasl import Credentials
from twistedchat.wire.grammar import parse_line
from twistedchat.wire.message import Message


class Upstream:
    """What the gateway sees of a ChatClient: it records submits and fires events."""

    def __init__(self, identity: Identity | Credentials, on_event: Callable[[Event], None]) -> None:
        self.identity = identity
        self.on_event = on_event
        self.submitted: list[Message] = []
        nick = identity.nick if isinstance(identity, Identity) else "*"
        self.session = type("S", (), {"nick": nick})()
        self.introduced: Identity | None = None
        self.started = False
        self.closed: str | None = None

    def introduce(self, identity: Identity) -> None:
        self.introduced = identity
        self.session.nick = identity.nick  # type: ignore[attr-defined]

    def incoming(self, *lines: str) -> None:
        for line in lines:
            self.on_event(Incoming(parse_line(line.encode())))

    def start(self) -> Any:
        self.started = True

    def submit(self, message: Message) -> str:
        self.submitted.append(message)
        return f"t{len(self.submitted)}"

    def close(self, reason: str) -> None:
        self.closed = reason


def connect() -> tuple[GatewayConnection, StringTransport, list[Upstream]]:
    made: list[Upstream] = []

    def make(identity: Identity | Credentials, on_event: Callable[[Event], None]) -> Any:
        made.append(Upstream(identity, on_event))
        return made[-1]

    connection = GatewayConnection(make)
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport, made


def lines(transport: StringTransport) -> list[str]:
    return transport.value().decode().splitlines()


def test_registration_waits_for_cap_end_and_checks_its_parameters() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"CAP LS 302\r\nNICK\r\nUSER x\r\nNICK alice\r\nUSER al 0 * :Al\r\n")
    assert " 431 " in lines(transport)[1] and " 461 " in lines(transport)[2]
    assert "twistedchat.org/resume" not in lines(transport)[0]
    assert "sasl=PLAIN" in lines(transport)[0].split()
    assert made == []  # CAP negotiation is still open
    connection.dataReceived(b"CAP REQ :echo-message labeled-response\r\nCAP END\r\n")
    assert len(made) == 1 and made[0].started and made[0].identity == Identity("alice", "al", "Al")


def test_labels_are_mapped_and_echoes_hidden_without_echo_message() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"CAP REQ :labeled-response batch\r\nCAP END\r\n")
    connection.dataReceived(b"NICK alice\r\nUSER al 0 * :Al\r\n")
    upstream = made[0]
    transport.clear()
    connection.dataReceived(b"@label=mine PRIVMSG #a :hi\r\n")
    assert upstream.submitted[-1] == Message("PRIVMSG", ("#a", "hi"))  # our label upstream
    echo = Message("PRIVMSG", ("#a", "hi"), "alice!al@h", {"msgid": "1-1"})
    upstream.on_event(Reply("t1", (echo,)))
    assert lines(transport) == ["@label=mine :gateway ACK"]  # no echo-message: the echo is hidden
    transport.clear()
    upstream.on_event(Incoming(Message("PRIVMSG", ("#a", "yo"), "bob!b@h", {"msgid": "1-2"})))
    assert lines(transport) == [":bob!b@h PRIVMSG #a :yo"]  # tags the client did not ask for
    connection.connectionLost()
    assert upstream.closed == "Connection closed"


def test_a_new_session_after_a_lost_one_shows_only_a_nick_change() -> None:
    """The client never left: the second registration burst is not shown, only the
    alternative nick the new session got while the old one still held the nick."""
    connection, transport, made = connect()
    connection.dataReceived(b"CAP LS 302\r\nCAP END\r\nNICK alice\r\nUSER al 0 * :Al\r\n")
    upstream = made[0]
    upstream.incoming(":srv 001 alice :Welcome")
    upstream.on_event(SessionLost("Cannot resume"))
    transport.clear()
    upstream.incoming(":srv 433 * alice :Nickname is already in use")
    upstream.session.nick = "alice_"  # type: ignore[attr-defined]
    upstream.incoming(":srv 001 alice_ :Welcome", ":srv 005 alice_ CHANTYPES=# :are supported")
    upstream.on_event(Registered("alice_"))
    upstream.incoming(":srv 376 alice_ :End of /MOTD command.", ":bob!b@h PRIVMSG alice_ :hi")
    assert lines(transport) == [
        ":alice!gateway@gateway NICK alice_",
        ":bob!b@h PRIVMSG alice_ :hi",
    ]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DANA = Credentials("dana", "s3cret")
LOGIN = f"AUTHENTICATE PLAIN\r\nAUTHENTICATE {b64(chr(0) + 'dana' + chr(0) + 's3cret')}\r\n"


def logging_in() -> tuple[GatewayConnection, StringTransport, list[Upstream]]:
    """irssi's order: CAP LS, CAP REQ, the whole SASL exchange, and only after its answer
    CAP END, NICK and USER."""
    connection, transport, made = connect()
    connection.dataReceived(b"CAP LS 302\r\nCAP REQ :sasl account-tag\r\n" + LOGIN.encode())
    return connection, transport, made


def test_a_login_is_checked_upstream_before_the_client_says_who_it_is() -> None:
    connection, transport, made = logging_in()
    assert lines(transport)[-1] == ":gateway AUTHENTICATE +"
    (upstream,) = made
    assert upstream.started and upstream.identity == DANA  # the credentials alone
    transport.clear()
    upstream.incoming(
        ":n1 900 * *!*@h dana :You are now logged in as dana", ":n1 903 * :SASL successful"
    )
    assert [line.split()[1] for line in lines(transport)] == ["900", "903"]
    connection.dataReceived(b"CAP END\r\nNICK dana\r\nUSER d 0 * :Dana\r\n")
    assert upstream.introduced == Identity("dana", "d", "Dana", DANA)
    transport.clear()
    upstream.incoming(":n2 903 * :SASL successful", ":n2 001 dana :Welcome")
    assert lines(transport) == [":n2 001 dana Welcome"]  # a login again after a failover


def test_a_client_that_sends_nick_and_user_first_is_introduced_at_cap_end() -> None:
    connection, _, made = connect()
    connection.dataReceived(b"CAP REQ :sasl\r\nNICK dana\r\nUSER d 0 * :Dana\r\n")
    connection.dataReceived(LOGIN.encode())
    (upstream,) = made
    assert upstream.identity == DANA and upstream.introduced is None
    upstream.incoming(":n1 903 * :SASL successful")
    connection.dataReceived(b"CAP END\r\n")
    assert upstream.introduced == Identity("dana", "d", "Dana", DANA)


def test_a_refused_login_drops_the_upstream_session_and_registration_goes_on() -> None:
    connection, transport, made = logging_in()
    first = made[0]
    transport.clear()
    first.incoming(":n1 904 * :SASL authentication failed")
    first.on_event(LoginFailed(parse_line(b":n1 904 * :SASL authentication failed")))
    assert lines(transport) == [":n1 904 * :SASL authentication failed"]
    assert first.closed is not None
    first.incoming("ERROR :Closing link")  # the dropped session's goodbye stays unseen
    assert lines(transport) == [":n1 904 * :SASL authentication failed"]
    connection.dataReceived(b"CAP END\r\nNICK dana\r\nUSER d 0 * :Dana\r\n")
    assert made[1].identity == Identity("dana", "d", "Dana")  # without an account


def test_a_client_may_abort_while_the_cluster_checks_its_login() -> None:
    connection, transport, made = logging_in()
    transport.clear()
    connection.dataReceived(b"AUTHENTICATE *\r\n")
    assert lines(transport)[-1].split()[1] == "906" and made[0].closed is not None
    connection.dataReceived(b"CAP END\r\nNICK dana\r\nUSER d 0 * :Dana\r\n")
    assert made[1].identity == Identity("dana", "d", "Dana")  # without an account


def test_registering_mid_exchange_ends_it_with_906() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"CAP LS 302\r\nCAP REQ :sasl\r\nAUTHENTICATE PLAIN\r\n")
    connection.dataReceived(b"NICK dana\r\nUSER d 0 * :Dana\r\nCAP END\r\n")
    assert lines(transport)[-1].split()[1] == "906"
    assert made[0].identity == Identity("dana", "d", "Dana")


def test_a_login_refused_after_a_failover_is_told_to_the_user() -> None:
    connection, transport, made = logging_in()
    made[0].incoming(":n1 903 * :SASL successful")
    connection.dataReceived(b"CAP END\r\nNICK dana\r\nUSER d 0 * :Dana\r\n")
    transport.clear()
    made[0].incoming(":n2 904 * :SASL authentication failed")
    made[0].on_event(LoginFailed(parse_line(b":n2 904 * :SASL authentication failed")))
    (notice,) = lines(transport)
    assert notice.startswith(":gateway NOTICE dana :") and "not logged in" in notice
    assert made[0].closed is None


def test_authenticate_is_refused_without_sasl_for_other_mechanisms_and_twice() -> None:
    connection, transport, made = connect()
    connection.dataReceived(b"AUTHENTICATE PLAIN\r\n")
    assert lines(transport)[-1].split()[1] == "904"  # sasl was not negotiated
    connection.dataReceived(b"CAP REQ :sasl\r\nAUTHENTICATE EXTERNAL\r\n")
    assert [line.split()[1] for line in lines(transport)[-2:]] == ["908", "904"]
    connection.dataReceived(LOGIN.encode() + b"AUTHENTICATE PLAIN\r\n")
    assert lines(transport)[-1].split()[1] == "907"  # one login at a time
    assert len(made) == 1


HISTORY_REPLY = (
    Message("BATCH", ("+history", "chathistory", "#a")),
    Message("JOIN", ("#a",), "bob!b@h", {"batch": "history", "msgid": "1-1"}),
    Message("PRIVMSG", ("#a", "hi"), "bob!b@h", {"batch": "history", "msgid": "2-1"}),
    Message("PART", ("#a",), "bob!b@h", {"batch": "history", "msgid": "3-1"}),
    Message("BATCH", ("-history",)),
)


def commands(transport: StringTransport) -> list[str]:
    return [parse_line(line.encode()).command for line in lines(transport)]


def history_client(caps: str) -> tuple[StringTransport, Upstream]:
    """A registered client of the gateway with ``caps``, its CHATHISTORY sent upstream."""
    connection, transport, made = connect()
    connection.dataReceived(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    connection.dataReceived(b"NICK alice\r\nUSER al 0 * :Al\r\n")
    connection.dataReceived(b"@label=h CHATHISTORY LATEST #a * 10\r\n")
    transport.clear()
    return transport, made[0]


def test_history_events_reach_only_clients_that_negotiated_event_playback() -> None:
    transport, upstream = history_client("batch labeled-response draft/event-playback")
    upstream.on_event(Reply("t1", HISTORY_REPLY))
    assert commands(transport)[2:-2] == ["JOIN", "PRIVMSG", "PART"]
    transport, upstream = history_client("batch labeled-response")
    upstream.on_event(Reply("t1", HISTORY_REPLY))
    assert commands(transport) == ["BATCH", "BATCH", "PRIVMSG", "BATCH", "BATCH"]
    got = lines(transport)
    assert got[1].endswith("BATCH +history chathistory #a") and got[3].endswith("BATCH -history")


def test_events_caught_up_after_a_failover_are_shown_without_event_playback() -> None:
    transport, upstream = history_client("")
    upstream.incoming(":bob!b@h JOIN #a", ":bob!b@h TOPIC #a :news")  # the session's catch-up
    assert lines(transport) == [":bob!b@h JOIN #a", ":bob!b@h TOPIC #a :news"]
