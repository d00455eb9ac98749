"""Per-address connection limits: how many at once, and how fast."""

from __future__ import annotations

from tests.memorylog import Server
from twistedchat.irc.admission import RATE_ENTRIES, Admission


def test_open_connections_per_address_are_capped() -> None:
    admission = Admission(per_address=2, burst=10, rate=0)
    assert admission.admit("10.0.0.1", 0) is None
    assert admission.admit("10.0.0.1", 0) is None
    assert "Too many connections" in (admission.admit("10.0.0.1", 0) or "")
    assert admission.admit("10.0.0.2", 0) is None  # another address is not affected
    admission.left("10.0.0.1")
    assert admission.admit("10.0.0.1", 0) is None


def test_connection_rate_per_address_is_throttled() -> None:
    admission = Admission(per_address=100, burst=2, rate=1.0)
    assert [admission.admit("10.0.0.1", 0) is None for _ in range(3)] == [True, True, False]
    assert admission.admit("10.0.0.1", 1.0) is None  # one more token a second later


def test_loopback_is_exempt_and_memory_is_bounded() -> None:
    admission = Admission(per_address=1, burst=1, rate=1.0)
    assert all(admission.admit("127.0.0.1", 0) is None for _ in range(50))
    for i in range(RATE_ENTRIES + 100):
        admission.admit(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", 0)
    assert len(admission._buckets) == RATE_ENTRIES


def test_a_refused_connection_is_told_why_and_others_carry_on() -> None:
    server = Server(max_per_address=2)
    first, second, third = server.connect(), server.connect(), server.connect()
    assert third.closed and third.has("ERROR :Closing Link") and third.has("Too many")
    first.send("NICK a", "USER a 0 * :A")
    assert first.has(" 001 a ") and not second.closed
    first.connection_lost()
    assert not server.connect().closed


def test_sts_names_the_tls_port_on_plain_connections() -> None:
    server = Server(sts_port=6697)
    client = server.connect()
    client.send("CAP LS 302")
    assert client.has(" sts=port=6697")
    old = server.connect()
    old.send("CAP LS")  # sts needs CAP 302 values
    assert not old.has("sts")
    plain = Server().connect()
    plain.send("CAP LS 302")
    assert plain.has(" LS ") and not plain.has("sts")
