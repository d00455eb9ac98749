"""Who may open IRC over WebSocket, and in which of the IRCv3 subprotocols."""

from __future__ import annotations

from twistedchat.web.handshake import (
    BINARY,
    TEXT,
    OriginPolicy,
    Refusal,
    choose_subprotocol,
    origin_of,
)


def test_the_clients_first_subprotocol_of_ours_is_taken() -> None:
    assert choose_subprotocol([BINARY, TEXT]) == BINARY
    assert choose_subprotocol(["chat", TEXT, BINARY]) == TEXT
    assert choose_subprotocol([]) is None  # plain text frames, no header
    refused = choose_subprotocol(["xmpp", "mqtt"])
    assert isinstance(refused, Refusal) and refused.status == 400
    assert TEXT in refused.reason


def test_origins_are_compared_as_browsers_send_them() -> None:
    assert origin_of("ws://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert origin_of("wss://Chat.Example.org:443/") == "https://chat.example.org"
    assert origin_of("wss://chat.example.org:8443/x") == "https://chat.example.org:8443"
    assert origin_of("http://host:80") == "http://host"
    assert origin_of("ws://[::1]:8080/") == "http://[::1]:8080"  # brackets kept
    for unusable in ("ws://host:99999/", "ws://[::1/", "ws:///", "not a url"):
        assert origin_of(unusable) is None


def test_the_cluster_is_allowed_and_the_host_header_is_not_trusted() -> None:
    cluster = {"http://127.0.0.1:8080", "http://127.0.0.1:8081"}
    policy = OriginPolicy((), lambda: cluster)
    assert policy.check(None) is None  # not a browser
    assert policy.check("http://127.0.0.1:8081") is None
    assert policy.check("HTTP://127.0.0.1:8080 ") is None
    # Any other origin, even one naming the host the request was sent to: with DNS
    # rebinding, a page of attacker.example can send Host: attacker.example to a node.
    for hostile in ("https://evil.example", "null", "http://127.0.0.1:8082", "", "x" * 5000):
        refused = policy.check(hostile)
        assert isinstance(refused, Refusal) and refused.status == 403
        assert len(refused.reason) < 200
    assert policy.check("https://127.0.0.1:8080") is not None  # another scheme, another origin


def test_patterns_allow_more_than_the_cluster() -> None:
    policy = OriginPolicy(["https://*.example.org"], lambda: {"http://127.0.0.1:8080"})
    assert policy.check("https://web.example.org") is None
    assert policy.check("http://127.0.0.1:8080") is None  # the cluster's pages still may
    assert policy.check("https://example.org.evil") is not None
    assert OriginPolicy(["*"], set).check("https://anything") is None
