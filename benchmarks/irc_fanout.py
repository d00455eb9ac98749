"""IRC fan-out: one sender, N receivers in one channel; deliveries/s and latency p50/p99.

Systems, side by side in one run: ngircd (Debian, a C ircd, penalties off) as the
single-server baseline, and twistedchat as a 1-node and a 3-node cluster (receivers spread
over the nodes, every message committed through Raft with fsync). Receivers run in several
worker processes so the load generator is not the bottleneck. Every receiver must see the
same order; the run fails loudly otherwise.

    python -m benchmarks.irc_fanout [--receivers 10 100] [--messages 300]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHANNEL = "#bench"
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay in the figures
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN {CHANNEL}\r\n".encode())
    buffer = b""
    while b" 366 " not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"{nick}: closed during registration: {buffer[-300:]!r}")
        buffer += chunk
        if b"PING " in chunk:
            token = chunk.split(b"PING ", 1)[1].split(b"\r\n", 1)[0]
            sock.sendall(b"PONG " + token + b"\r\n")
    return sock


def worker(ports: list[int], first: int, count: int, messages: int, out: str) -> None:
    """Hold ``count`` receivers; record (message number, latency) until all arrived."""
    sockets = [register(ports[(first + i) % len(ports)], f"r{first + i}") for i in range(count)]
    print("READY", flush=True)
    selector = selectors.DefaultSelector()
    state = {}
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        state[sock] = {"buffer": b"", "seen": []}
    latencies: list[float] = []
    done = 0
    deadline = time.monotonic() + 300
    while done < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            record = state[sock]  # type: ignore[index]
            data = sock.recv(1 << 20)  # type: ignore[union-attr]
            if not data:
                raise ConnectionError("a receiver was disconnected")
            now = time.time()
            lines = (record["buffer"] + data).split(b"\r\n")
            record["buffer"] = lines.pop()
            for line in lines:
                if b" PRIVMSG " in line:
                    number, sent = line.rsplit(b":", 1)[1].split(b"@")
                    record["seen"].append(int(number))
                    latencies.append(now - float(sent))
                    if len(record["seen"]) == messages:
                        done += 1
                elif line.startswith(b"PING "):
                    sock.sendall(b"PONG " + line[5:] + b"\r\n")  # type: ignore[union-attr]
    orders = {tuple(record["seen"]) for record in state.values()}
    Path(out).write_text(json.dumps({"latencies": latencies, "orders": len(orders),
                                     "complete": done == len(sockets)}))  # fmt: skip


def run(ports: list[int], receivers: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        procs, outs = [], []
        share = -(-receivers // WORKERS)
        for w in range(WORKERS):
            count = min(share, receivers - w * share)
            if count <= 0:
                break
            out = f"{tmp}/w{w}.json"
            outs.append(out)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "benchmarks.irc_fanout", "--worker", out,
                 "--ports", *map(str, ports), "--first", str(w * share),
                 "--count", str(count), "--messages", str(messages)],
                stdout=subprocess.PIPE, text=True,
            ))  # fmt: skip
        try:
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
            sender = register(ports[0], "sender")
            started = time.time()
            for first in range(0, messages, 50):  # batches of 50, each stamped when sent
                stamp = time.time()
                last = min(first + 50, messages)
                batch = "".join(
                    f"PRIVMSG {CHANNEL} :{i}@{stamp:.6f}\r\n" for i in range(first, last)
                )
                sender.sendall(batch.encode())
            for proc in procs:
                proc.wait(timeout=300)
            finished = time.time()
            sender.close()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        results = [json.loads(Path(out).read_text()) for out in outs]
    latencies = sorted(x for r in results for x in r["latencies"])
    if not all(r["complete"] for r in results) or any(r["orders"] != 1 for r in results):
        raise RuntimeError("a receiver missed messages or saw another order")
    return {
        "deliveries_per_second": len(latencies) / (finished - started),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


@contextmanager
def ngircd() -> Iterator[list[int]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "ngircd.conf"
        conf.write_text(
            f"[Global]\nName = bench.ngircd\nInfo = bench\nListen = 127.0.0.1\nPorts = {port}\n"
            f"PidFile = {tmp}/pid\nMotdPhrase = bench\n"
            "[Limits]\nMaxConnections = 0\nMaxConnectionsIP = 0\nMaxJoins = 0\n"
            "MaxPenaltyTime = 0\nPingTimeout = 600\nPongTimeout = 600\n"
            "[Options]\nDNS = no\nIdent = no\nPAM = no\n"
        )
        proc = subprocess.Popen(["ngircd", "--nodaemon", "--config", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_for_port(port)
            yield [port]
        finally:
            proc.kill()
            proc.wait()


@contextmanager
def twistedchat(nodes: int) -> Iterator[list[int]]:
    twistd = str(Path(sys.executable).with_name("twistd"))
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret"
        secret.write_text(os.urandom(32).hex())
        discovery = free_port()
        ports, procs = [], []
        for i in range(nodes):
            irc, peer, status = free_port(), free_port(), free_port()
            ports.append(irc)
            procs.append(subprocess.Popen(
                [twistd, "-n", "--pidfile=", "chatnode", "--data-dir", f"{tmp}/n{i}",
                 "--irc", f"tcp:{irc}:interface=127.0.0.1",
                 "--peer", f"tcp:{peer}:interface=127.0.0.1",
                 "--status", f"tcp:{status}:interface=127.0.0.1",
                 "--cluster", f"bench{os.getpid()}", "--discovery-port", str(discovery),
                 "--secret-file", str(secret), "--bootstrap-expect", str(nodes),
                 "--flood-rate", "0", "--max-clients", "100000"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        try:
            for port in ports:
                _wait_for_port(port)
            _wait_until_registration_works(ports)
            yield ports
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _wait_until_registration_works(ports: list[int]) -> None:
    """A cluster serves once it has a leader: wait until a test client gets 366 on each node."""
    deadline = time.monotonic() + 60
    for i, port in enumerate(ports):
        while True:
            try:
                register(port, f"probe{i}").close()
                break
            except (OSError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


SYSTEMS = {
    "ngircd (1 server)": ngircd,
    "twistedchat (1 node)": lambda: twistedchat(1),
    "twistedchat (3 nodes)": lambda: twistedchat(3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receivers", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--worker")
    parser.add_argument("--ports", type=int, nargs="+")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    if args.worker:
        worker(args.ports, args.first, args.count, args.messages, args.worker)
        return
    print(f"IRC fan-out, {args.messages} messages from one sender\n")
    print("| receivers | system | deliveries/s | p50 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|")
    for receivers in args.receivers:
        base = None
        for name, start in SYSTEMS.items():
            with start() as ports:
                result = run(ports, receivers, args.messages)
            base = base or result
            ratio = result["deliveries_per_second"] / base["deliveries_per_second"]
            print(f"| {receivers} | {name} | {result['deliveries_per_second']:.0f} "
                  f"({ratio:.2f}x) | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
