"""draft/read-marker through connections and hubs: two nodes on one log, one account."""

from __future__ import annotations

import base64

from tests.memorylog import Client, MemoryLog, Server
from twistedchat.gateway.protocol import OFFERED
from twistedchat.irc.capabilities import OUTPUT_CAPS, SUPPORTED
from twistedchat.irc.help import help_lines

CAP = "draft/read-marker"
PASSWORD = "correct-horse"
T1 = "timestamp=2023-11-14T22:13:10.000Z"
T2 = "timestamp=2023-11-14T22:13:15.500Z"  # both before the servers' clock (1.7e9 s)


def two_nodes() -> tuple[Server, Server]:
    log = MemoryLog()
    one = Server("n1", log=log)
    return one, Server("n2", log=log, clock=one.clock)


def with_account(server: Server, nick: str = "alice", caps: tuple[str, ...] = (CAP,)) -> Client:
    """``nick`` registers the account ``alice``."""
    client = server.register(nick, caps)
    client.send(f"REGISTER * * {PASSWORD}")
    assert client.has("REGISTER SUCCESS alice"), client.lines()
    client.clear()
    return client


def sasl(server: Server, nick: str, caps: tuple[str, ...] = (CAP,)) -> Client:
    """A session of ``nick`` logged in to ``alice`` by SASL."""
    client = server.connect()
    client.send("CAP LS 302", f"CAP REQ :{' '.join(('sasl', *caps))}")
    client.send(f"NICK {nick}", f"USER {nick} 0 * :Real {nick}", "AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode())
    client.send("CAP END")
    assert client.has(" 903 ") and client.has(" 001 "), client.lines()
    client.clear()
    return client


def test_the_cap_is_offered_and_not_by_the_gateway() -> None:
    client = Server().connect()
    client.send("CAP LS 302")
    assert client.has(CAP)
    assert CAP in SUPPORTED and CAP in OUTPUT_CAPS
    assert CAP not in OFFERED  # its upstream session would not be told of JOINs' markers
    assert help_lines("me", "markread")[0].params[1] == "MARKREAD"


def test_a_marker_set_on_one_node_reaches_the_accounts_session_on_another() -> None:
    one, two = two_nodes()
    laptop = with_account(one, caps=(CAP, "labeled-response"))
    phone = sasl(two, "alice_phone")
    plain = sasl(two, "alice_old", ())  # the same account, without the capability
    other = two.register("bob", (CAP,))
    laptop.send(f"@label=m1 MARKREAD #chan {T1}")
    answer = f":irc.test MARKREAD #chan {T1}"
    assert laptop.lines() == [f"@label=m1 {answer}"]  # the answer, once, not a copy too
    assert phone.lines() == [answer]
    assert plain.lines() == other.lines() == []
    phone.send("MARKREAD #chan timestamp=2023-11-14T22:13:00.000Z")  # older: nothing moves
    assert phone.lines()[-1] == answer
    assert laptop.lines() == [f"@label=m1 {answer}"]
    plain.send("MARKREAD #CHAN")  # asking needs no capability; the replica answers
    assert plain.lines() == [f":irc.test MARKREAD #CHAN {T1}"]
    other.send("MARKREAD #chan")
    assert other.lines() == [":irc.test MARKREAD #chan *"]


def test_a_join_gets_the_marker_after_the_join_and_before_the_end_of_names() -> None:
    one, two = two_nodes()
    laptop = with_account(one)
    laptop.send(f"MARKREAD #chan {T2}")
    phone = sasl(two, "alice_phone", (CAP, "draft/no-implicit-names"))
    phone.send("JOIN #chan")
    assert phone.lines() == [
        ":alice_phone!~alice_phone@192.168.1.1 JOIN #chan",
        f":irc.test MARKREAD #chan {T2}",
    ]
    plain = sasl(two, "alice_old", ())
    plain.send("JOIN #chan")
    assert not plain.has("MARKREAD")
    guest = two.register("guest", (CAP,))
    guest.send("JOIN #chan")
    lines = guest.lines()
    assert lines[1] == ":irc.test MARKREAD #chan *"
    assert " 366 " in lines[-1]


def test_errors_come_as_standard_replies() -> None:
    server = Server()
    alice = with_account(server)
    alice.send("MARKREAD", "MARKREAD #chan *", "MARKREAD #chan timestamp=soon")
    assert alice.lines() == [
        ":irc.test FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters",
        ":irc.test FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp",
        ":irc.test FAIL MARKREAD INVALID_PARAMS timestamp=soon :Invalid timestamp",
    ]
    guest = server.register("guest", (CAP,))
    guest.send(f"MARKREAD #chan {T1}")
    assert guest.lines() == [
        ":irc.test FAIL MARKREAD ACCOUNT_REQUIRED #chan :Log in to an account to keep read markers"
    ]
    alice.clear()
    alice.send(f"MARKREAD {'#' * 300} {T1}")
    assert alice.lines() == [":irc.test FAIL MARKREAD INVALID_PARAMS * :Invalid target"]
