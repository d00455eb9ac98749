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


def test_without_patterns_the_cluster_and_the_own_host_are_allowed() -> None:
    cluster = {"http://127.0.0.1:8080", "http://127.0.0.1:8081"}
    policy = OriginPolicy((), lambda: cluster)
    assert policy.check(None, "127.0.0.1:8080", secure=False) is None  # not a browser
    assert policy.check("http://127.0.0.1:8081", "127.0.0.1:8080", secure=False) is None
    assert policy.check("HTTP://127.0.0.1:8080", "whatever", secure=False) is None
    assert policy.check("https://chat.example.org", "chat.example.org", secure=True) is None
    for hostile in ("https://evil.example", "null", "http://127.0.0.1:8082", ""):
        refused = policy.check(hostile, "127.0.0.1:8080", secure=False)
        assert isinstance(refused, Refusal) and refused.status == 403
    # The page of a TLS endpoint is https: its plain-http twin is another origin.
    assert policy.check("http://chat.example.org", "chat.example.org", secure=True) is not None


def test_patterns_replace_the_default() -> None:
    policy = OriginPolicy(["https://*.example.org"], lambda: {"http://127.0.0.1:8080"})
    assert policy.check("https://web.example.org", "node", secure=True) is None
    assert policy.check("http://127.0.0.1:8080", "127.0.0.1:8080", secure=False) is not None
    assert OriginPolicy(["*"], set).check("https://anything", None, secure=False) is None
