"""Password checks of a connection: off the reactor, in order, throttled, upgraded.

The hasher is replaced by fakes: :class:`ManualHasher` answers when the test says so
(a check in flight), :class:`CountingHasher` counts the checks it ran. Clients connect
from 192.168.1.1 (StringTransport's peer), so the address throttle applies to them.
"""

from __future__ import annotations

import base64

from twisted.internet import defer

from tests.chat.test_passwords import legacy_hash
from tests.memorylog import Client, Server
from twistedchat.chat.passwords import hash_password, needs_rehash
from twistedchat.irc.login_throttle import ACCOUNT_LIMIT, WINDOW
from twistedchat.security.hashing import Check, HasherBusy, ImmediateHasher


class ManualHasher:
    """Every request waits in ``checks`` / ``hashes`` until the test fires it."""

    def __init__(self) -> None:
        self.checks: list[defer.Deferred[Check]] = []
        self.hashes: list[tuple[str, defer.Deferred[str]]] = []

    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        self.checks.append(defer.Deferred())
        return self.checks[-1]

    def hash(self, password: str) -> defer.Deferred[str]:
        self.hashes.append((password, defer.Deferred()))
        return self.hashes[-1][1]


class CountingHasher(ImmediateHasher):
    def __init__(self) -> None:
        self.calls = 0

    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        self.calls += 1
        return super().check(password, stored)


class LegacyHasher(ImmediateHasher):
    """Registers accounts with hashes of the first format, as older nodes did."""

    def hash(self, password: str) -> defer.Deferred[str]:
        return defer.succeed(legacy_hash(password))


class BusyHasher:
    def check(self, password: str, stored: str) -> defer.Deferred[Check]:
        return defer.fail(HasherBusy())

    def hash(self, password: str) -> defer.Deferred[str]:
        return defer.fail(HasherBusy())


def plain(account: str, password: str) -> str:
    return "AUTHENTICATE " + base64.b64encode(f"\0{account}\0{password}".encode()).decode()


def with_account(server: Server, account: str = "carol", password: str = "correct-horse") -> None:
    owner = server.register("owner" + account)
    owner.send(f"REGISTER {account} * {password}")
    assert owner.has("REGISTER SUCCESS"), owner.lines()


def sasl_client(server: Server, nick: str = "carol") -> Client:
    client = server.connect()
    client.send("CAP LS 302", "CAP REQ :sasl", f"NICK {nick}", f"USER {nick} 0 * :C")
    client.send("AUTHENTICATE PLAIN")
    assert client.has("AUTHENTICATE +")
    client.clear()
    return client


def index_of(client: Client, needle: str) -> int:
    return next(i for i, line in enumerate(client.lines()) if needle in line)


# -- ordering while a check is in flight ------------------------------------------------


def test_cap_end_after_authenticate_waits_for_the_sasl_verdict() -> None:
    server = Server()
    with_account(server)
    hasher = server.factory.hasher = ManualHasher()
    client = sasl_client(server)
    client.send_raw((plain("carol", "correct-horse") + "\r\nCAP END\r\n").encode())
    assert client.lines() == []  # not registered before the SASL result
    (check,) = hasher.checks
    check.callback(Check(ok=True))
    server.clock.advance(0)
    assert index_of(client, " 903 carol ") < index_of(client, " 001 carol ")
    server.register("watcher").send("WHOIS carol")
    assert server.hub.state.nick_account("carol") == "carol"  # CONNECT carried the account


def test_a_wrong_password_is_answered_before_registration_goes_on_without_it() -> None:
    server = Server()
    with_account(server)
    hasher = server.factory.hasher = ManualHasher()
    client = sasl_client(server)
    client.send_raw((plain("carol", "wrong") + "\r\nCAP END\r\n").encode())
    hasher.checks[0].callback(Check(ok=False))
    server.clock.advance(0)
    assert index_of(client, " 904 carol ") < index_of(client, " 001 carol ")
    assert server.hub.state.nick_account("carol") is None


def test_lines_after_identify_wait_for_it() -> None:
    server = Server()
    with_account(server)
    hasher = server.factory.hasher = ManualHasher()
    bob = server.register("bob")
    bob.send_raw(b"PRIVMSG NickServ :IDENTIFY carol correct-horse\r\nJOIN #after\r\n")
    assert not bob.has("JOIN #after")
    hasher.checks[0].callback(Check(ok=True))
    server.clock.advance(0)
    assert index_of(bob, " 900 bob ") < index_of(bob, "JOIN #after")


def test_lines_after_register_wait_for_its_hash() -> None:
    server = Server()
    hasher = server.factory.hasher = ManualHasher()
    dan = server.register("dan")
    dan.send_raw(b"REGISTER * * long-password\r\nJOIN #next\r\n")
    assert not dan.has("JOIN") and server.hub.state.password_hash("dan") is None
    password, hashed = hasher.hashes[0]
    hashed.callback(hash_password(password, b"x" * 16))
    server.clock.advance(0)
    assert index_of(dan, "REGISTER SUCCESS dan") < index_of(dan, "JOIN #next")


def test_input_piling_up_behind_a_check_is_bounded() -> None:
    server = Server()
    with_account(server)
    server.factory.hasher = ManualHasher()
    client = sasl_client(server)
    backlog = server.settings.flood_backlog
    client.send_raw((plain("carol", "pw") + "\r\n" + "PING x\r\n" * backlog).encode())
    assert not client.closed
    client.send_raw(b"PING x\r\n")
    assert client.closed and client.has("ERROR :Closing Link: 192.168.1.1 (Excess Flood)")


def test_a_check_answered_after_the_client_left_is_dropped() -> None:
    server = Server()
    with_account(server)
    hasher = server.factory.hasher = ManualHasher()
    client = sasl_client(server)
    client.send(plain("carol", "correct-horse"))
    client.connection_lost()
    hasher.checks[0].callback(Check(ok=True))
    server.clock.advance(0)
    assert not client.has(" 903 ")


# -- throttling --------------------------------------------------------------------------


def test_sasl_is_refused_without_hashing_after_too_many_failures() -> None:
    # Many attempts on one connection, none delayed, and time to wait out the throttle.
    server = Server(flood_rate=0, registration_timeout=10 * WINDOW)
    with_account(server)
    hasher = server.factory.hasher = CountingHasher()
    client = sasl_client(server)
    for _ in range(ACCOUNT_LIMIT):
        client.send(plain("carol", "guess"), "AUTHENTICATE PLAIN")
        assert client.has(" 904 carol :SASL authentication failed")
    client.clear()
    client.send(plain("carol", "correct-horse"))
    assert hasher.calls == ACCOUNT_LIMIT
    assert client.has(f" 904 carol :Too many failed logins; wait {int(WINDOW)} seconds")
    server.clock.advance(WINDOW)
    client.send("AUTHENTICATE PLAIN", plain("carol", "correct-horse"))
    assert client.has(" 903 carol ") and hasher.calls == ACCOUNT_LIMIT + 1


def test_identify_and_oper_are_throttled_with_their_own_replies() -> None:
    operators = (("root", hash_password("s3cret-pass", b"s" * 16)),)
    server = Server(operators=operators, flood_rate=0)
    with_account(server)
    bob = server.register("bob")
    for _ in range(ACCOUNT_LIMIT):
        bob.send("PRIVMSG NickServ :IDENTIFY Carol nope", "OPER root nope")
    bob.clear()
    bob.send("PRIVMSG NickServ :IDENTIFY carol correct-horse")  # casemapped: the same account
    assert bob.has(
        ":NickServ!NickServ@services. NOTICE bob :Too many failed logins; wait 60 seconds"
    )
    bob.send("OPER root s3cret-pass")
    assert bob.has(" 464 bob :Too many failed logins; wait 60 seconds and try again")
    assert not bob.has(" 900 ") and not bob.has(" 381 ")


def test_one_address_guessing_many_accounts_is_throttled_by_address() -> None:
    server = Server(flood_rate=0)  # many attempts on one connection, none delayed
    with_account(server)
    hasher = server.factory.hasher = CountingHasher()
    client = sasl_client(server)
    for n in range(20):  # unknown accounts: no hashing, but the address counts them
        client.send(plain(f"nobody{n}", "guess"), "AUTHENTICATE PLAIN")
    client.clear()
    client.send(plain("carol", "correct-horse"))
    assert client.has(" 904 carol :Too many failed logins") and hasher.calls == 0


def test_an_overloaded_hasher_gets_a_clear_failure() -> None:
    server = Server()
    with_account(server)
    server.factory.hasher = BusyHasher()
    client = sasl_client(server)
    client.send(plain("carol", "correct-horse"))
    assert client.has(" 904 carol :The server is busy checking passwords; try again")
    eve = server.register("eve")
    eve.send("REGISTER * * long-password")
    assert eve.has("FAIL REGISTER TEMPORARILY_UNAVAILABLE eve :The server is busy")
    eve.send("PRIVMSG NickServ :REGISTER long-password")
    assert eve.has(":NickServ!NickServ@services. NOTICE eve :The server is busy")
    eve.send("PRIVMSG NickServ :IDENTIFY carol correct-horse")
    assert eve.lines()[-1].endswith(
        ":The server is busy checking passwords; try again in a few seconds."
    )
    assert server.hub.state.password_hash("eve") is None


# -- upgrading old hashes ----------------------------------------------------------------


def test_an_old_hash_is_upgraded_through_the_log_at_the_next_identify() -> None:
    server = Server()
    server.factory.hasher = LegacyHasher()
    with_account(server)
    old = server.hub.state.password_hash("carol")
    assert old is not None and needs_rehash(old)
    server.factory.hasher = ImmediateHasher()
    bob = server.register("bob")
    bob.send("PRIVMSG NickServ :IDENTIFY carol correct-horse")
    assert bob.has(" 900 bob ")
    new = server.hub.state.password_hash("carol")
    assert new is not None and new.startswith("$scrypt$ln=14,r=8,p=1$")
    assert b"@REHASH" in server.log.entries[-1] and b"correct-horse" not in server.log.entries[-1]
    bob.send("PRIVMSG NickServ :IDENTIFY carol correct-horse")
    assert server.hub.state.password_hash("carol") == new  # nothing left to upgrade
    assert b"@REHASH" not in server.log.entries[-1]


def test_an_old_hash_is_upgraded_once_a_sasl_login_has_registered() -> None:
    server = Server()
    server.factory.hasher = LegacyHasher()
    with_account(server)
    server.factory.hasher = ImmediateHasher()
    client = sasl_client(server)
    client.send(plain("carol", "correct-horse"))
    assert client.has(" 903 carol ")
    assert needs_rehash(server.hub.state.password_hash("carol") or "")  # not a user yet
    client.send("CAP END")
    assert client.has(" 001 carol ")
    assert not needs_rehash(server.hub.state.password_hash("carol") or "")
