"""Failed-login throttling, pure, on a Clock: per account, per address, bounded."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from twistedchat.irc.login_throttle import FailureWindow, LoginThrottle, Refusal


def fail(throttle: LoginThrottle, clock: Clock, account: str | None, address: str, n: int) -> None:
    for _ in range(n):
        throttle.failed(account, address, clock.seconds())


def test_an_account_is_refused_after_its_limit_until_its_oldest_failure_ages_out() -> None:
    clock = Clock()
    throttle = LoginThrottle(account_limit=3, address_limit=100, window=60)
    fail(throttle, clock, "account:alice", "192.0.2.1", 2)
    clock.advance(10)
    assert throttle.check("account:alice", "192.0.2.1", clock.seconds()) is None
    fail(throttle, clock, "account:alice", "192.0.2.1", 1)
    refused = throttle.check("account:alice", "198.51.100.7", clock.seconds())  # any address
    assert refused == Refusal(50)
    assert refused.text() == "Too many failed logins; wait 50 seconds and try again"
    assert throttle.check("account:bob", "192.0.2.1", clock.seconds()) is None
    clock.advance(49.5)
    assert throttle.check("account:alice", "192.0.2.1", clock.seconds()) == Refusal(1)
    clock.advance(0.5)  # the first two failures are 60 s old: one left in the window
    assert throttle.check("account:alice", "192.0.2.1", clock.seconds()) is None


def test_an_address_is_refused_for_every_account_after_its_limit() -> None:
    clock = Clock()
    throttle = LoginThrottle(account_limit=100, address_limit=4, window=30)
    fail(throttle, clock, None, "192.0.2.1", 4)  # unknown accounts count against the address
    assert throttle.check("account:anyone", "192.0.2.1", clock.seconds()) == Refusal(30)
    assert throttle.check("account:anyone", "192.0.2.2", clock.seconds()) is None
    assert len(throttle.accounts) == 0  # ... and never fill the account table


def test_ipv6_addresses_count_by_their_64() -> None:
    clock = Clock()
    throttle = LoginThrottle(account_limit=100, address_limit=2, window=30)
    fail(throttle, clock, None, "2001:db8:1:2::1", 1)
    fail(throttle, clock, None, "2001:db8:1:2:ffff::9", 1)
    assert throttle.check("account:x", "2001:db8:1:2::77", clock.seconds()) is not None
    assert throttle.check("account:x", "2001:db8:1:3::1", clock.seconds()) is None


@pytest.mark.parametrize("loopback", ["127.0.0.1", "127.3.4.5", "::1"])
def test_loopback_is_throttled_by_account_only(loopback: str) -> None:
    """A gateway on loopback carries many users: one mistyping must not lock out the rest."""
    clock = Clock()
    throttle = LoginThrottle(account_limit=3, address_limit=2, window=60)
    fail(throttle, clock, None, loopback, 50)
    fail(throttle, clock, "account:mallory", loopback, 3)
    assert throttle.check("account:alice", loopback, clock.seconds()) is None
    assert throttle.check("account:mallory", loopback, clock.seconds()) is not None
    assert len(throttle.addresses) == 0


def test_the_tables_are_bounded() -> None:
    window = FailureWindow(limit=3, window=60, keys=100)
    for n in range(10_000):
        window.failed(f"192.0.2.{n}", float(n))
    assert len(window) == 100
    window.failed("busy", 0.0)
    window.failed("busy", 1.0)
    assert len(window._failures["busy"]) == 2
    for t in range(10):
        window.failed("busy", 2.0 + t)
    assert len(window._failures["busy"]) == 3  # at most `limit` timestamps per key


def test_expired_keys_are_forgotten_when_looked_at() -> None:
    window = FailureWindow(limit=2, window=10)
    window.failed("k", 0.0)
    assert window.wait("k", 5.0) == 0 and len(window) == 1
    assert window.wait("k", 10.0) == 0 and len(window) == 0


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        FailureWindow(limit=0, window=10)
    with pytest.raises(ValueError):
        FailureWindow(limit=1, window=0)
