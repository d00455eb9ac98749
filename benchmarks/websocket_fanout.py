"""IRC over WebSocket beside IRC over TCP: the same node, the same channel, the same burst.

One twistedchat node (``--websocket``) runs both listeners. ``--receivers`` clients join
one channel over TCP, then as many over WebSocket (``text.ircv3.net``); a sender on TCP
floods ``--messages`` lines, and each phase measures, with only one kind of receiver
connected:

- deliveries/s: deliveries over the time from the first send to the last arrival;
- the node's CPU microseconds per delivery (utime + stime of the process, ``/proc``),
  the figure that says what the WebSocket framing costs the server.

The TCP phase is the baseline; the ratios are WebSocket over TCP, from the same run. The
load generator reads every receiver in this process with one ``selectors`` loop (a
WebSocket receiver parses frame headers: server frames are not masked), so its own cost
is in the wall-clock figure of both phases but not in the node's CPU.

    python -m benchmarks.websocket_fanout [--receivers 100] [--messages 2000] [--rounds 3]

Results go to ``benchmarks/results/websocket_fanout.json``.
"""

from __future__ import annotations

import argparse
import base64
import os
import selectors
import socket
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks import results
from benchmarks.irc_systems import (
    CHANNEL,
    _start,
    _wait_for_port,
    _wait_until_registration_works,
    chatnode_command,
    cpu,
    free_port,
    register_many,
)

RECEIVE_TIMEOUT = 120.0
BATCH = 50


def websocket_receiver(port: int, nick: str) -> socket.socket:
    """A registered WebSocket client in ``CHANNEL`` (blocking handshake and registration)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n".encode()
    )
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(4096)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    for line in (f"NICK {nick}", f"USER {nick} 0 * :bench", f"JOIN {CHANNEL}"):
        sock.sendall(client_frame(line.encode()))
    while True:
        payloads, buffer = frames(buffer)
        if any(b" 366 " in p for p in payloads):
            return sock
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"{nick}: closed during registration")
        buffer += chunk


def client_frame(payload: bytes) -> bytes:
    """A masked text frame (zero mask: valid, and no work)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole server frames at the start of ``buffer`` (payloads), and the rest."""
    payloads = []
    at = 0
    while len(buffer) - at >= 2:
        length = buffer[at + 1] & 0x7F
        head = 2
        if length == 126:
            if len(buffer) - at < 4:
                break
            length, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
        elif length == 127:
            if len(buffer) - at < 10:
                break
            length, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
        if len(buffer) - at < head + length:
            break
        payloads.append(buffer[at + head : at + head + length])
        at += head + length
    return payloads, buffer[at:]


def receive(sockets: list[socket.socket], messages: int, websocket: bool) -> float:
    """Read until every receiver has ``messages`` of the sender's lines; the time of the
    last arrival (``time.perf_counter``)."""
    selector = selectors.DefaultSelector()
    counts = dict.fromkeys(range(len(sockets)), 0)
    buffers = [b""] * len(sockets)
    for i, sock in enumerate(sockets):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    waiting, last = len(sockets), 0.0
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{waiting} receivers still waiting: {counts}")
        for key, _ in selector.select(timeout=1):
            i = key.data
            data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            if websocket:
                payloads, buffers[i] = frames(buffers[i] + data)
                got = sum(1 for p in payloads if b" PRIVMSG " in p)
            else:
                got = data.count(b" PRIVMSG ")
            if got:
                counts[i] += got
                last = time.perf_counter()
                if counts[i] >= messages:
                    waiting -= 1
                    selector.unregister(key.fileobj)
    selector.close()
    for sock in sockets:
        sock.setblocking(True)
    return last


def phase(
    sender: socket.socket, receivers: list[socket.socket], messages: int, websocket: bool,
    pid: int, first: int,
) -> dict[str, float]:  # fmt: skip
    (cpu_before,) = cpu([pid])
    started = time.perf_counter()
    for at in range(first, first + messages, BATCH):
        count = min(BATCH, first + messages - at)
        sender.sendall(b"".join(f"PRIVMSG {CHANNEL} :line {at + n}\r\n".encode()
                                for n in range(count)))  # fmt: skip
    last = receive(receivers, messages, websocket)
    (cpu_after,) = cpu([pid])
    deliveries = messages * len(receivers)
    return {
        "deliveries_per_s": deliveries / (last - started),
        "cpu_us_per_delivery": (cpu_after - cpu_before) * 1e6 / deliveries,
    }


def run(receivers: int, messages: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        secret = Path(tmp) / "secret"
        secret.write_text(os.urandom(32).hex())
        irc, peer, status, discovery, web = (free_port() for _ in range(5))
        command = chatnode_command(f"{tmp}/n", irc, peer, status, discovery, secret, 1)
        command += ["--websocket", f"tcp:{web}:interface=127.0.0.1"]
        proc = _start(stack, command, Path(tmp) / "n.log")
        _wait_for_port(irc, proc, Path(tmp) / "n.log")
        _wait_for_port(web, proc, Path(tmp) / "n.log")
        _wait_until_registration_works([irc])
        (sender,) = register_many([(irc, "sender")])
        phases: dict[str, list[dict[str, float]]] = {"tcp": [], "websocket": []}
        sent = 0
        for _ in range(rounds):
            for kind in ("tcp", "websocket"):
                if kind == "tcp":
                    clients = register_many([(irc, f"t{i}") for i in range(receivers)])
                else:
                    clients = [websocket_receiver(web, f"w{i}") for i in range(receivers)]
                time.sleep(0.5)  # the JOINs settle
                phases[kind].append(phase(sender, clients, messages, kind == "websocket",
                                          proc.pid, sent))  # fmt: skip
                sent += messages
                for client in clients:
                    client.close()
                time.sleep(0.5)  # their QUITs settle
        best = {
            kind: {
                "deliveries_per_s": max(p["deliveries_per_s"] for p in runs),
                "cpu_us_per_delivery": statistics.median(p["cpu_us_per_delivery"] for p in runs),
            }
            for kind, runs in phases.items()
        }
        return {"rounds": phases, "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    outcome = run(args.receivers, args.messages, args.rounds)
    tcp, ws = outcome["best"]["tcp"], outcome["best"]["websocket"]
    print(f"{args.receivers} receivers, {args.messages} lines, best of {args.rounds}:")
    for name, figures in (("TCP", tcp), ("WebSocket", ws)):
        print(f"  {name:9}  {figures['deliveries_per_s']:>9,.0f} deliveries/s  "
              f"{figures['cpu_us_per_delivery']:5.2f} us CPU/delivery")  # fmt: skip
    throughput = ws["deliveries_per_s"] / tcp["deliveries_per_s"]
    cost = ws["cpu_us_per_delivery"] / tcp["cpu_us_per_delivery"]
    print(f"  WebSocket/TCP: {throughput:.2f}x throughput, {cost:.2f}x CPU")
    results.save(
        "websocket_fanout",
        {"receivers": args.receivers, "messages": args.messages, "rounds": args.rounds},
        outcome,
    )


if __name__ == "__main__":
    main()
