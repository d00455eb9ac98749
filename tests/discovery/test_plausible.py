"""Where a node may send a client, judged from where the client asked it."""

from __future__ import annotations

import pytest

from twistedchat.discovery.plausible import GLOBAL, LOOPBACK, NAME, PRIVATE, plausible, scope


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:6667", LOOPBACK),
        ("127.3.4.5:6667", LOOPBACK),
        ("localhost:6667", LOOPBACK),
        ("[::1]:6667", LOOPBACK),
        ("10.1.2.3:6667", PRIVATE),
        ("192.168.1.1:6667", PRIVATE),
        ("8.8.8.8:6667", GLOBAL),
        ("irc.example.org:6667", NAME),
        ("0.0.0.0:6667", None),
        ("[::]:6667", None),
        ("224.0.0.1:6667", None),
        ("255.255.255.255:6667", None),
        ("127.255.255.255:6667", None),
        ("169.254.1.1:6667", None),
        ("240.0.0.1:6667", None),
    ],
)
def test_scopes(address: str, expected: str | None) -> None:
    assert scope(address) == expected


@pytest.mark.parametrize(
    ("address", "asked", "ok"),
    [
        ("127.0.0.1:2", "127.0.0.1:1", True),
        ("10.0.0.2:1", "127.0.0.1:1", False),  # a loopback cluster has no other hosts
        ("irc.example.org:1", "127.0.0.1:1", False),
        ("127.0.0.1:22", "10.0.0.1:6667", False),  # never to a service on our own host
        ("127.0.0.1:22", "irc.example.org:6667", False),
        ("10.0.0.2:6667", "10.0.0.1:6667", True),
        ("10.0.0.2:6667", "8.8.8.8:6667", False),  # a public node steering into our LAN
        ("8.8.4.4:6667", "10.0.0.1:6667", False),
        ("8.8.4.4:6667", "8.8.8.8:6667", True),
        ("irc2.example.org:6667", "irc.example.org:6667", True),
        ("10.0.0.2:6667", "irc.example.org:6667", True),
        ("0.0.0.0:6667", "0.0.0.0:6667", False),
    ],
)
def test_plausible(address: str, asked: str, ok: bool) -> None:
    assert plausible(address, asked) is ok
