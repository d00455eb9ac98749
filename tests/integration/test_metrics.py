"""``/metrics`` and ``/dashboard`` of a real node: the figures move with IRC traffic, the
token guards the data (not the page), and hostile requests get plain refusals."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import IRCClient, Node, make_cluster, wait_for

TOKEN = "a-long-enough-metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def get(node: Node, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """(status, headers, body) of GET ``path``; HTTP errors are answers too."""
    request = urllib.request.Request(f"http://127.0.0.1:{node.status_port}{path}",
                                     headers=headers or {})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def scrape(node: Node) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, headers, body = get(node, "/metrics", AUTH)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          node: Node, **labels: str) -> float:  # fmt: skip
    return found[(name, frozenset({"node": node.node_id, **labels}.items()))]


def status(node: Node) -> dict[str, Any] | None:
    try:
        code, _, body = get(node, "/status", AUTH)
    except OSError:
        return None
    return json.loads(body) if code == 200 else None


@pytest.fixture
def guarded_node(tmp_path: Path) -> Node:
    """One node whose status site wants ``TOKEN``, leading its cluster of one."""
    token_file = tmp_path / "status.token"
    token_file.write_text(TOKEN + "\n")
    (node,) = make_cluster(tmp_path, 1, ["--status-token-file", str(token_file)])
    node.start()
    wait_for(lambda: (status(node) or {}).get("role") == "leader", 30, "the node to lead")
    return node  # the autouse watched_processes fixture stops and checks it


@pytest.mark.integration
def test_metrics_move_with_irc_traffic_and_want_the_token(guarded_node: Node) -> None:
    node = guarded_node
    for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}):
        code, _, body = get(node, "/metrics", headers)
        assert code == 401 and b"bearer token" in body
    before = scrape(node)
    assert value(before, "twistedchat_raft_role", node, role="leader") == 1
    assert value(before, "twistedchat_clients", node) == 0
    alice, bob = IRCClient(node.irc_port, "alice"), IRCClient(node.irc_port, "bob")
    try:
        for client in (alice, bob):
            client.send("JOIN #metrics")
            client.expect(" 366 ")
        for i in range(5):
            alice.send(f"PRIVMSG #metrics :line {i}")
        bob.expect("PRIVMSG #metrics :line 4")
        after = scrape(node)
        assert value(after, "twistedchat_clients", node) == 2
        assert value(after, "twistedchat_channels", node) == 1
        messages = value(after, "twistedchat_messages_total", node)
        assert messages - value(before, "twistedchat_messages_total", node) == 5
        deliveries = value(after, "twistedchat_deliveries_total", node)
        assert deliveries - value(before, "twistedchat_deliveries_total", node) >= 5
        commit = value(after, "twistedchat_raft_commit_index", node)
        assert commit >= value(before, "twistedchat_raft_commit_index", node) + 5
        assert value(after, "twistedchat_raft_applied_index", node) == commit
        assert value(after, "twistedchat_raft_fsync_seconds_count", node) > value(
            before, "twistedchat_raft_fsync_seconds_count", node
        )
        assert value(after, "twistedchat_raft_append_seconds_count", node) >= 5
        assert value(after, "twistedchat_raft_term", node) >= 1
        # The series exists (a lone node hears no one, so its count may be 0).
        assert value(after, "twistedchat_discovery_announcements_total", node,
                     outcome="accepted") >= 0  # fmt: skip
        document = status(node)
        assert document is not None and document["messages"] == messages
        rate = document["message_rate"]
        assert rate["step_seconds"] == 2.0 and isinstance(rate["per_second"], list)
        wait_for(lambda: sum((status(node) or {})["message_rate"]["per_second"]) > 0, 10,
                 "the rate ring to see the messages")  # fmt: skip
    finally:
        alice.close()
        bob.close()


@pytest.mark.integration
def test_the_dashboard_is_public_its_data_is_not_and_hostile_requests_are_refused(
    guarded_node: Node,
) -> None:
    node = guarded_node
    code, headers, page = get(node, "/dashboard")
    assert code == 200 and b"/dashboard/dashboard.js" in page
    assert headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    for asset, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        code, headers, _ = get(node, f"/dashboard/{asset}")
        assert code == 200 and headers["content-type"].startswith(kind)
    assert get(node, "/status")[0] == 401
    # Unknown paths: no hint without the token, a 404 naming the right ones with it.
    assert get(node, "/../../etc/passwd")[0] == 401
    code, _, body = get(node, "/dashboard/../../etc/passwd", AUTH)
    assert code == 404 and b"/metrics" in body
    assert get(node, "/dashboard/secret.py", AUTH)[0] == 404
    # Another web page may not read the status from a browser; a member's status site may.
    own = f"http://127.0.0.1:{node.status_port}"
    evil = {**AUTH, "Origin": "http://evil.example"}
    code, headers, _ = get(node, "/status", evil)
    assert code == 200 and "access-control-allow-origin" not in headers
    code, headers, _ = get(node, "/status", {**AUTH, "Origin": own})
    assert headers["access-control-allow-origin"] == own
    assert preflight(node, "http://evil.example")[0] == 403
    code, allowed = preflight(node, own)
    assert code == 204 and allowed == own
    # A method the site has no use for, and headers past Twisted's bound.
    connection = http.client.HTTPConnection("127.0.0.1", node.status_port, timeout=5)
    connection.request("PUT", "/metrics", body=b"x", headers=AUTH)
    assert connection.getresponse().status == 501  # Twisted's "Not Implemented"
    connection.close()
    assert huge_headers(node).startswith(b"HTTP/1.1 400")
    assert status(node) is not None  # and it still serves


def preflight(node: Node, origin: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", node.status_port, timeout=5)
    connection.request("OPTIONS", "/status", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    })  # fmt: skip
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, response.getheader("access-control-allow-origin")


def huge_headers(node: Node) -> bytes:
    """The answer to a request with 64 KiB of headers."""
    with socket.create_connection(("127.0.0.1", node.status_port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(64):
                sock.sendall(f"X-Filler-{i}: {'a' * 1000}\r\n".encode())
            sock.sendall(b"\r\n")
        except OSError:
            pass  # it may hang up before we are done
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer
