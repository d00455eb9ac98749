"""IRC over WebSocket against real nodes: the IRCv3 subprotocols, the Origin check, the
web endpoint's other paths, and the TCP listener's limits holding for WebSocket clients
that misbehave (each of them harming no other user)."""

from __future__ import annotations

import json
import ssl
import struct
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from wsproto.events import TextMessage

from tests.integration.harness import IRCClient, Node, free_ports, leader_of, new_node, wait_for
from tests.integration.test_tls import self_signed
from tests.web.wsclient import Refused, WebSocketIRCClient

pytestmark = pytest.mark.integration


def websocket_options() -> tuple[int, list[str]]:
    (port,) = free_ports(1)
    return port, ["--websocket", f"tcp:{port}:interface=127.0.0.1"]


def web_cluster(tmp_path: Path, size: int, *extra: str) -> tuple[list[Node], list[int]]:
    nodes, ports = [], []
    for i in range(size):
        port, options = websocket_options()
        node = new_node(tmp_path, f"node{i}", ["--bootstrap-expect", str(size), *options, *extra])
        node.start()
        nodes.append(node)
        ports.append(port)
    wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
    return nodes, ports


def get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_web_clients_talk_with_tcp_clients_across_nodes(tmp_path: Path) -> None:
    nodes, ports = web_cluster(tmp_path, 2)
    try:
        web = WebSocketIRCClient(ports[0], "webby", caps=["echo-message", "message-tags"])
        assert web.subprotocol == "text.ircv3.net"
        tcp = IRCClient(nodes[1].irc_port, "tcpuser")
        web.send("JOIN #room")
        web.expect(" 366 ")
        tcp.send("JOIN #room")
        web.expect("JOIN #room")
        tcp.send("PRIVMSG #room :hello from tcp")
        assert web.expect("hello from tcp").endswith("PRIVMSG #room :hello from tcp")
        web.send("PRIVMSG #room :hello from the web")
        tcp.expect("hello from the web")
        echo = web.expect("hello from the web")  # echo-message, with its msgid
        assert "msgid=" in echo
        # One line per message, none with its line end.
        assert all("\r" not in line and "\n" not in line for line in web.lines)

        binary = WebSocketIRCClient(ports[1], "bytes", subprotocols=["binary.ircv3.net"])
        assert binary.subprotocol == "binary.ircv3.net"
        binary.send_frame(b"JOIN #room")
        binary.expect(" 366 ")
        binary.send_frame(b"PING :bin")
        raw = binary.next_message()
        assert isinstance(raw, bytes) and raw.endswith(b":bin")  # binary, as negotiated
        plain = WebSocketIRCClient(ports[1], "plain", subprotocols=[])  # websocat, a browser
        assert plain.subprotocol is None
        with pytest.raises(Refused) as refused:
            WebSocketIRCClient(ports[0], subprotocols=["xmpp"])
        assert refused.value.status == 400

        page_origin = f"http://127.0.0.1:{ports[0]}"
        _, headers, body = get(ports[1], "/nodes.json", {"Origin": page_origin})
        listing = json.loads(body)
        assert headers["Access-Control-Allow-Origin"] == page_origin  # a page of the cluster
        hostile = get(ports[1], "/nodes.json", {"Origin": "https://evil.example"})[1]
        assert "Access-Control-Allow-Origin" not in hostile
        # The web client's page may read the other nodes' lists: they are in its CSP.
        policy = get(ports[0], "/")[1]["Content-Security-Policy"]
        assert "connect-src 'self' ws: wss: " in policy and f"http://127.0.0.1:{ports[1]}" in policy
        assert listing["self"] == nodes[1].node_id
        assert {n["url"] for n in listing["nodes"]} == {f"ws://127.0.0.1:{p}/" for p in ports}
        assert sum(n["leader"] for n in listing["nodes"]) == 1
        for client in (web, tcp, binary, plain):
            client.close()
    finally:
        for node in nodes:
            node.stop()


def test_origin_is_checked(tmp_path: Path) -> None:
    nodes, ports = web_cluster(tmp_path, 2)
    try:
        for i, port in enumerate(ports):  # a page of any node of the cluster
            WebSocketIRCClient(ports[0], f"ok{i}", origin=f"http://127.0.0.1:{port}").close()
        for origin in ("https://evil.example", "null", f"http://127.0.0.1:{ports[0] + 1}x"):
            with pytest.raises(Refused) as refused:
                WebSocketIRCClient(ports[0], origin=origin)
            assert refused.value.status == 403
        assert "may not open IRC over WebSocket" in nodes[0].log_text()
    finally:
        for node in nodes:
            node.stop()
    port, options = websocket_options()
    node = new_node(tmp_path, "open", [*options, "--websocket-origin", "https://*.example.org"])
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        WebSocketIRCClient(port, "fine", origin="https://chat.example.org").close()
        WebSocketIRCClient(port, "own", origin=f"http://127.0.0.1:{port}").close()
        with pytest.raises(Refused):
            WebSocketIRCClient(port, origin="https://example.org.evil")
    finally:
        node.stop()


def test_hostile_websocket_clients_harm_no_one(tmp_path: Path) -> None:
    port, options = websocket_options()
    node = new_node(tmp_path, "strict", [*options, "--registration-timeout", "2",
                                         "--max-clients", "6"])  # fmt: skip
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        bystander = IRCClient(node.irc_port, "bystander")
        bystander.send("JOIN #calm")
        bystander.expect(" 366 ")

        # A message far over the line limit, in one frame and as a never-ending fragmented
        # one: 417 each time, the connection lives on, and nothing is buffered.
        big = WebSocketIRCClient(port, "big")
        big.send_frame("PRIVMSG #calm :" + "x" * 1_000_000)
        big.expect(" 417 ")
        big.send_raw(masked_frame(0x1, b"PRIVMSG #calm :", fin=False))
        for _ in range(200):  # 2 MB more of that one message, in 10 kB continuation frames
            big.send_raw(masked_frame(0x0, b"y" * 10_000, fin=False))
        big.send_raw(masked_frame(0x0, b"", fin=True))
        big.send("PING :still-here")
        big.expect("still-here")

        # Bad UTF-8 in a text frame (1007) and a frame the client did not mask (1002).
        bad = WebSocketIRCClient(port, "badutf")
        bad.send_raw(masked_frame(0x1, b"PRIVMSG #calm :\xff\xfe"))
        assert bad.wait_closed().code == 1007
        unmasked = WebSocketIRCClient(port, "unmasked")
        unmasked.send_raw(bytes([0x81, 4]) + b"PING")
        assert unmasked.wait_closed().code == 1002

        # Flood control, the registration timeout and the node's client cap, as on TCP.
        flooder = WebSocketIRCClient(port, "flooder")
        flood = [TextMessage(f"PRIVMSG #calm :flood {i}") for i in range(100)]
        flooder.send_raw(b"".join(flooder.ws.send(message) for message in flood))
        flooder.expect("Excess Flood", timeout=20)
        idle = WebSocketIRCClient(port)
        idle.expect("Registration timed out", timeout=10)

        fillers = [WebSocketIRCClient(port, f"fill{i}") for i in range(4)]  # 6 with two above
        full = WebSocketIRCClient(port)
        full.expect("Server full")
        for client in fillers:
            client.close()

        # Through all of it the bystander was served.
        bystander.send("PING :alive")
        bystander.expect("PONG")
    finally:
        node.stop()


def test_a_browser_that_stops_reading_is_dropped_at_its_sendq(tmp_path: Path) -> None:
    port, options = websocket_options()
    node = new_node(tmp_path, "sendq", [*options, "--sendq", "20000", "--flood-rate", "0"])
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        sleeper = WebSocketIRCClient(port, "sleeper", receive_buffer=4096)
        sleeper.send("JOIN #calm")
        sleeper.expect(" 366 ")
        talker = IRCClient(node.irc_port, "talker")
        talker.send("JOIN #calm")
        talker.expect(" 366 ")
        batch = b"".join(b"PRIVMSG #calm :" + b"z" * 400 + b"\r\n" for _ in range(50))
        for sent in range(300):  # bounded: 6 MB at most, more than the kernel's buffers
            talker.send_raw(batch)
            talker.send(f"PING :{sent}")
            talker.expect("PONG ")  # one for each PING, in order: this batch was read
            if sent % 10 == 0 and "sleeper: SendQ exceeded" in node.log_text():
                break
        wait_for(lambda: "sleeper: SendQ exceeded" in node.log_text(), 20, "the sleeper dropped")
        talker.send("PING :alive")  # the talker was not harmed
        talker.expect("PONG")
    finally:
        node.stop()


def masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One client frame, masked with a zero key (valid, and easy to build by hand)."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        head = struct.pack("!BB", first, 0x80 | len(payload))
    else:
        head = struct.pack("!BBH", first, 0x80 | 126, len(payload))
    return head + b"\0\0\0\0" + payload


def test_wss_with_an_ssl_endpoint(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    (port,) = free_ports(1)
    websocket = f"ssl:{port}:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    node = new_node(tmp_path, "wss", ["--websocket", websocket])
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        context = ssl.create_default_context(cafile=str(cert))
        secure = WebSocketIRCClient(port, "secure", tls=context)
        secure.send("PING :over-tls")
        secure.expect("over-tls")
        url = f"https://127.0.0.1:{port}/nodes.json"
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            listing = json.load(response)
        assert [n["url"] for n in listing["nodes"]] == [f"wss://127.0.0.1:{port}/"]
        secure.close()
    finally:
        node.stop()


def test_web_endpoint_serves_files_and_refuses_the_rest(tmp_path: Path) -> None:
    port, options = websocket_options()
    node = new_node(tmp_path, "files", options)
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        status, headers, body = get(port, "/")
        assert status == 200 and b"<html" in body.lower()
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert get(port, "/../../etc/passwd")[0] == 404
        assert get(port, "/nope.js")[0] == 404
        # Asking to upgrade without the WebSocket headers is a clear 400.
        status, _, body = get(port, "/", {"Upgrade": "websocket", "Connection": "Upgrade"})
        assert status == 400 and b"not a WebSocket request" in body
    finally:
        node.stop()
