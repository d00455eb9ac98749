"""IRC commits: lines from plain IRC clients, committed and delivered; throughput and latency.

Two cases, each with its baselines in the same run, every system started afresh as
subprocesses of this script (``twistd chatnode`` processes as in :mod:`benchmarks.irc_fanout`)
and stopped by pid at the end, everything on loopback:

- ``commits`` ("commits through IRC"): N senders (``--senders``, default 20 and 100), each
  in a channel of its own with exactly one listener, another client. Each sender keeps
  ``--window`` lines in flight (sent, not yet received by its listener) and sends a new one
  for every one its listener receives, so the server is never idle and never sees more
  than N x window lines at once. ``--warmup`` seconds, then ``--duration`` seconds measured
  (at most ``--cap`` lines per sender); then the lines in flight are awaited. Reported:
  lines received by the listeners per second in the measured window, send-to-receipt
  latency p50/p99 of the lines sent in it, lines lost or out of order, CPU use of the
  server processes and of the load generator.
- ``lines`` ("one line at a time"): one sender, one listener, one line every
  ``--interval`` seconds (``--lines``, after a few unmeasured ones), send-to-receipt
  p50/p99 and, where the server offers ``echo-message`` (``CAP REQ :echo-message``),
  send-to-echo p50/p99.

Systems: twistedchat with 3 nodes (the reference for the ratios), 1 node and (``lines``)
5 nodes, ``--flood-rate 0``; ngircd (Debian, C) and miniircd (PyPI, pure Python) configured
as in the fan-out benchmark; and ``harness``, no server at all (each sender's socket is
connected straight to its listener's), which measures the load generator's own ceiling.
On several nodes, ``commits`` puts sender i on node i mod n and its listener on the next
node; ``lines`` puts the sender on a follower and the listener on another follower.

The load generator of ``commits`` runs in ``--workers`` processes (default 2), each with
whole sender/listener pairs, so a latency is measured by one process's clock.

    python -m benchmarks.irc_commit [--case commits|lines] [--systems twistedchat3 ngircd ...]
        [--senders 20 100] [--duration 4.5] [--window 32] [--lines 200] [--no-save]

Systems: twistedchat3, twistedchat1, twistedchat5, ngircd, miniircd, harness (or any
substring of a key or of a system's name: ``twistedchat`` selects all three). Unless named,
twistedchat5 runs only ``lines`` and harness only ``commits``.
Environment: IRC_COMMIT_CASES, IRC_COMMIT_SYSTEMS (comma-separated), IRC_COMMIT_SENDERS
("20 100"), IRC_COMMIT_WORKERS (2), IRC_COMMIT_QUICKACK (1; 0: no TCP_QUICKACK re-arming).
Saved for :mod:`benchmarks.report` as ``benchmarks/results/irc_commit.json`` (not with
``--no-save``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import plot, results
from benchmarks.irc_systems import (
    _ngircd_conf,
    _start,
    _wait_for_port,
    chatnode_command,
    cpu,
    miniircd_command,
    release,
    start_load,
    status,
)

REFERENCE = "twistedchat (3 nodes)"
CASES = ("commits", "lines")
PAD = "x" * 48  # a line of about chat size: "PRIVMSG #c12 :12345 xxx...", 70 bytes
REGISTER_TIMEOUT = 120.0  # seconds for one process to register and join all its clients
DRAIN_TIMEOUT = 30.0  # seconds to wait for the lines in flight once sending stopped
LINE_TIMEOUT = 5.0  # ``lines``: a line not received this long after the last send is lost
LINE_WARMUP = 5  # ``lines``: lines sent first and not measured
SELECT_FD_LIMIT = 1024  # miniircd uses select()
# Re-arm TCP_QUICKACK after every read (as irc_fanout does): a server that writes with Nagle
# on otherwise waits up to 40 ms for our delayed ACK, and the figures would measure that.
QUICKACK = os.environ.get("IRC_COMMIT_QUICKACK", "1") != "0" and hasattr(socket, "TCP_QUICKACK")


@dataclass
class Target:
    """A started system: IRC ports (one per node), server pids, and where the leader is."""

    ports: list[int]
    pids: list[int] = field(default_factory=list)
    leader: int | None = None  # index in ``ports`` of the Raft leader (twistedchat)
    pipe: bool = False  # no server: senders connect straight to their listeners
    register_chunk: int = 50  # clients connected at once (small listen backlogs: fewer)
    max_clients: int = 0  # 0: no limit known


# -- clients -------------------------------------------------------------------------------


class Client:
    """A blocking IRC connection used to register and join, then driven non-blocking."""

    def __init__(self, sock: socket.socket, nick: str) -> None:
        self.sock = sock
        self.nick = nick
        self.buffer = b""
        self.echo = False  # echo-message acknowledged

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def until(self, wanted: Callable[[bytes], bool], deadline: float) -> bytes:
        """Read until a line for which ``wanted`` is true (answering PINGs); return it."""
        while True:
            *lines, rest = self.buffer.split(b"\r\n")
            for n, line in enumerate(lines):
                if line.startswith(b"PING "):
                    self.sock.sendall(b"PONG " + line[5:] + b"\r\n")
                elif wanted(line):
                    self.buffer = b"\r\n".join([*lines[n + 1 :], rest])
                    return line
            self.buffer = rest
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.nick}: nothing wanted came in time ({lines[-3:]!r})")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.nick}: closed ({lines[-3:]!r})")
            self.buffer += chunk


def numeric(code: bytes) -> Callable[[bytes], bool]:
    return lambda line: line.split(b" ", 2)[1:2] == [code]


def connect(port: int, nick: str) -> Client:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle in the figures
    return Client(sock, nick)


def register(clients: list[Client], deadline: float, echo: bool = False) -> None:
    """Register ``clients`` (already connected) at once; with ``echo``, ask for echo-message
    where the server offers it (``CAP LS 302`` first; a server without CAP ignores it)."""
    for c in clients:
        cap = "CAP LS 302\r\n" if echo else ""
        c.send(f"{cap}NICK {c.nick}\r\nUSER {c.nick} 0 * :bench\r\n")
    for c in clients:
        offered: list[bytes] = []
        while echo:  # CAP LS lines ("* " before the list: more follow), or 001 without CAP
            line = c.until(lambda x: bool(cap_reply(x, b"LS")) or numeric(b"001")(x), deadline)
            if numeric(b"001")(line):
                break
            more, caps = cap_reply(line, b"LS") or (False, [])
            offered += [name.split(b"=")[0] for name in caps]
            if more:
                continue
            if b"echo-message" in offered:
                c.send("CAP REQ :echo-message\r\n")
                answer = c.until(lambda x: bool(cap_reply(x, b"ACK") or cap_reply(x, b"NAK")),
                                 deadline)  # fmt: skip
                c.echo = bool(cap_reply(answer, b"ACK"))
            c.send("CAP END\r\n")
            c.until(numeric(b"001"), deadline)
            break
        else:
            c.until(numeric(b"001"), deadline)


def cap_reply(line: bytes, sub: bytes) -> tuple[bool, list[bytes]] | None:
    """``(more follow, capabilities)`` if ``line`` is ``CAP <nick> <sub> ...``, else None."""
    parts = line.split(b" ", 4)
    if len(parts) < 5 or parts[1] != b"CAP" or parts[3] != sub:
        return None
    more = parts[4].startswith(b"* ")
    return more, parts[4].removeprefix(b"* ").removeprefix(b":").split()


def join_pairs(pairs: list[tuple[Client, Client, str]], deadline: float) -> None:
    """Each (sender, listener, channel): the listener joins, then the sender, then the
    listener sees the sender's JOIN (so the sender's lines will reach it)."""
    for joining in ([p[1] for p in pairs], [p[0] for p in pairs]):
        for client, (_, _, channel) in zip(joining, pairs, strict=True):
            client.send(f"JOIN {channel}\r\n")
        for client in joining:
            client.until(numeric(b"366"), deadline)
    for sender, listener, _ in pairs:
        listener.until(joined(sender.nick), deadline)


def joined(nick: str) -> Callable[[bytes], bool]:
    prefix = f":{nick}!".encode()
    return lambda line: line.startswith(prefix) and b" JOIN " in line


def pipe_pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    """``count`` (sender, listener) TCP connections on loopback with nothing in between."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(count)
        pairs = []
        for _ in range(count):
            sender = socket.create_connection(server.getsockname())
            listener, _ = server.accept()
            for sock in (sender, listener):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pairs.append((sender, listener))
        return pairs


def pair_sockets(
    target: Target, first: int, count: int, echo: bool = False, placement: str = "round-robin"
) -> tuple[list[tuple[socket.socket, socket.socket, str]], list[Client]]:
    """Connect, register and join ``count`` sender/listener pairs (ids from ``first``)."""
    channels = [f"#c{i}" for i in range(first, first + count)]
    if target.pipe:
        pipes = pipe_pairs(count)
        return [(s, r, c) for (s, r), c in zip(pipes, channels, strict=True)], []
    deadline = time.monotonic() + REGISTER_TIMEOUT
    clients: list[Client] = []
    pairs: list[tuple[Client, Client, str]] = []
    try:
        step = max(1, target.register_chunk // 2)  # pairs: two connections each
        for chunk in range(0, count, step):
            batch = []
            for i in range(first + chunk, first + min(count, chunk + step)):
                sender_at, listener_at = placed(target, i, placement)
                sender = connect(target.ports[sender_at], f"s{i}")
                listener = connect(target.ports[listener_at], f"l{i}")
                clients += [sender, listener]
                batch.append((sender, listener, f"#c{i}"))
            register([c for p in batch for c in p[:2]], deadline, echo)
            pairs += batch
        join_pairs(pairs, deadline)
    except BaseException:
        for c in clients:
            c.sock.close()
        raise
    return [(s.sock, r.sock, ch) for s, r, ch in pairs], [p[0] for p in pairs]


def placed(target: Target, i: int, placement: str) -> tuple[int, int]:
    """Indexes in ``target.ports`` of pair ``i``'s sender and listener."""
    n = len(target.ports)
    if n == 1:
        return 0, 0
    if placement == "followers" and target.leader is not None:
        followers = [k for k in range(n) if k != target.leader]
        if len(followers) >= 2:
            return followers[0], followers[1]
        return followers[0], target.leader
    return i % n, (i + 1) % n


# -- case "commits": the worker's loop -----------------------------------------------------


class Pair:
    """One sender, its listener, and the lines in flight between them."""

    __slots__ = ("buffer", "channel", "expect", "listener", "lost", "misordered", "next",
                 "prefix", "sender", "sent_at")  # fmt: skip

    def __init__(self, sender: socket.socket, listener: socket.socket, channel: str) -> None:
        self.sender = sender
        self.listener = listener
        self.channel = channel
        self.prefix = f"PRIVMSG {channel} :"
        self.next = 0  # the next line's number
        self.expect = 0  # the number the listener should receive next
        self.sent_at: deque[float] = deque()  # send times of lines expect .. next-1
        self.buffer = b""
        self.lost = 0
        self.misordered = 0

    def send(self, count: int, now: float) -> None:
        first = self.next
        self.next += count
        data = "".join(f"{self.prefix}{n} {PAD}\r\n" for n in range(first, self.next)).encode()
        self.sent_at.extend([now] * count)
        sent = self.sender.send(data)
        if sent < len(data):  # rare: the server does not read; wait for it to
            self.sender.setblocking(True)
            self.sender.sendall(data[sent:])
            self.sender.setblocking(False)


def pump(pairs: list[Pair], window: int, start: float, warmup: float, duration: float,
         cap: int) -> dict[str, Any]:  # fmt: skip
    """Run the closed loop from ``start`` (perf_counter time); measure from start + warmup."""
    selector = selectors.DefaultSelector()
    for pair in pairs:
        for sock, role in ((pair.listener, "l"), (pair.sender, "s")):
            sock.setblocking(False)
            if QUICKACK:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            selector.register(sock, selectors.EVENT_READ, (pair, role))
    measure_from, stop_at = start + warmup, start + warmup + duration
    latencies: list[float] = []
    received = closed = 0
    cpu_from = cpu_to = 0.0
    while time.perf_counter() < start:
        time.sleep(min(0.01, max(0.0, start - time.perf_counter())))
    now = time.perf_counter()
    for pair in pairs:
        pair.send(min(window, cap), now)
    measuring = False
    while True:
        now = time.perf_counter()
        if not measuring and now >= measure_from:
            measuring, cpu_from = True, time.process_time()
        if now >= stop_at:
            if not cpu_to:
                cpu_to = time.process_time()
            if all(not p.sent_at for p in pairs) or now > stop_at + DRAIN_TIMEOUT:
                break
        for key, _ in selector.select(timeout=0.2):
            pair, role = key.data
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(conn)
                closed += 1
                continue
            if QUICKACK:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            now = time.perf_counter()
            lines = (pair.buffer + data).split(b"\r\n") if role == "l" else data.split(b"\r\n")
            if role == "l":
                pair.buffer = lines.pop()
            got = 0
            for line in lines:
                if b"PRIVMSG" not in line:
                    if line.startswith(b"PING "):
                        conn.sendall(b"PONG " + line[5:] + b"\r\n")
                    continue
                if role != "l":
                    continue
                text = line.find(b" :", 1) + 2
                number = int(line[text : line.index(b" ", text)])
                if number < pair.expect:
                    pair.misordered += 1
                    continue
                while pair.expect < number:  # lines the server dropped
                    pair.sent_at.popleft()
                    pair.expect += 1
                    pair.lost += 1
                pair.expect += 1
                sent = pair.sent_at.popleft()
                if measure_from <= sent < stop_at:
                    latencies.append(now - sent)
                if measure_from <= now < stop_at:
                    received += 1
                got += 1
            if got and now < stop_at and pair.next < cap:
                pair.send(min(got, cap - pair.next), now)
    in_flight = sum(len(p.sent_at) for p in pairs)
    return {
        "latencies": latencies,
        "received": received,
        "sent": sum(p.next for p in pairs),
        "lost": sum(p.lost for p in pairs) + in_flight,
        "misordered": sum(p.misordered for p in pairs),
        "closed": closed,
        "cpu_seconds": (cpu_to or time.process_time()) - cpu_from,
    }


def worker(args: argparse.Namespace) -> None:
    """One load-generating process of ``commits``: register its pairs, print READY, wait for
    ``GO <wall-clock start>`` on stdin, run, write the result to ``args.worker``."""
    target = Target(args.ports, leader=args.leader, pipe=args.pipe,
                    register_chunk=args.register_chunk)  # fmt: skip
    sockets, _ = pair_sockets(target, args.first, args.count)
    print("READY", flush=True)
    line = sys.stdin.readline().split()
    if line[:1] != ["GO"]:
        return
    start = time.perf_counter() + (float(line[1]) - time.time())
    pairs = [Pair(s, r, c) for s, r, c in sockets]
    try:
        result = pump(pairs, args.window, start, args.warmup, args.duration, args.cap)
    finally:
        for s, r, _ in sockets:
            s.close()
            r.close()
    Path(args.worker).write_text(json.dumps(result))


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_commits(target: Target, senders: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start the workers, give them one start time, gather and merge what they measured."""
    workers = max(1, min(args.workers, senders))
    share = -(-senders // workers)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        commands, outs = [], []
        for w in range(workers):
            count = min(share, senders - w * share)
            if count <= 0:
                break
            out = f"{tmp}/w{w}.json"
            outs.append(out)
            command = [sys.executable, "-m", "benchmarks.irc_commit", "--worker", out,
                       "--ports", *map(str, target.ports or [0]),
                       "--leader", str(-1 if target.leader is None else target.leader),
                       "--register-chunk", str(target.register_chunk),
                       "--first", str(w * share), "--count", str(count),
                       "--window", str(args.window), "--warmup", str(args.warmup),
                       "--duration", str(args.duration), "--cap", str(args.cap)]  # fmt: skip
            if target.pipe:
                command.append("--pipe")
            commands.append(command)
        procs = start_load(stack, commands, "register and join its clients")
        begin = release(procs)
        time.sleep(max(0.0, begin + args.warmup - time.time()))
        cpu_from = cpu(target.pids)
        time.sleep(max(0.0, begin + args.warmup + args.duration - time.time()))
        cpu_to = cpu(target.pids)
        for proc in procs:
            proc.wait(timeout=DRAIN_TIMEOUT + 30)
        reports = [json.loads(Path(out).read_text()) for out in outs]
    latencies = sorted(x for r in reports for x in r["latencies"])
    if not latencies:
        raise RuntimeError("no line reached its listener in the measured window")
    sent = sum(r["sent"] for r in reports)
    lost = sum(r["lost"] for r in reports)
    misordered = sum(r["misordered"] for r in reports)
    return {
        "messages_per_second": sum(r["received"] for r in reports) / args.duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "sent": sent,
        "lost": lost,
        "misordered": misordered,
        "all_in_order": "yes"
        if not (lost or misordered)
        else f"no ({lost} lost, {misordered} out of order)",
        "server_cpu_pct": [
            round((b - a) / args.duration * 100) for a, b in zip(cpu_from, cpu_to, strict=True)
        ],
        "harness_cpu_pct": round(sum(r["cpu_seconds"] for r in reports) / args.duration * 100),
    }


# -- case "lines" --------------------------------------------------------------------------


def run_lines(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """One sender, one listener; a line every ``args.interval`` s; receipt and echo latency."""
    sockets, clients = pair_sockets(target, 0, 1, echo=True, placement="followers")
    (sender, listener, channel), echo = sockets[0], bool(clients and clients[0].echo)
    where = "no server"
    if not target.pipe:
        s, r = placed(target, 0, "followers")

        def role(k: int) -> str:
            return "leader" if k == target.leader else "follower"

        where = (f"sender on node {s + 1} ({role(s)}), listener on node {r + 1} ({role(r)})"
                 if len(target.ports) > 1 else "both on the one server")  # fmt: skip
    selector = selectors.DefaultSelector()
    for sock, kind in ((listener, "receipt"), (sender, "echo")):
        sock.setblocking(False)
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        selector.register(sock, selectors.EVENT_READ, kind)
    total = LINE_WARMUP + args.lines
    sent_at: dict[int, float] = {}
    got: dict[str, dict[int, float]] = {"receipt": {}, "echo": {}}
    buffers = {"receipt": b"", "echo": b""}
    start = time.perf_counter() + 0.1
    number = 0
    last_send = start
    try:
        while True:
            now = time.perf_counter()
            if number < total and now >= start + number * args.interval:
                sent_at[number] = last_send = time.perf_counter()
                sender.sendall(f"PRIVMSG {channel} :{number} {PAD}\r\n".encode())
                number += 1
                continue
            waiting = len(got["receipt"]) < total or (echo and len(got["echo"]) < total)
            if number >= total and (not waiting or now > last_send + LINE_TIMEOUT):
                break
            wake = start + number * args.interval if number < total else last_send + LINE_TIMEOUT
            for key, _ in selector.select(timeout=max(0.0, wake - now)):
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                data = conn.recv(65536)
                arrived = time.perf_counter()
                if not data:
                    raise ConnectionError(f"the server closed the {key.data} connection")
                if QUICKACK:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                lines = (buffers[key.data] + data).split(b"\r\n")
                buffers[key.data] = lines.pop()
                for line in lines:
                    if line.startswith(b"PING "):
                        conn.sendall(b"PONG " + line[5:] + b"\r\n")
                    elif b"PRIVMSG" in line:
                        text = line.find(b" :", 1) + 2
                        got[key.data][int(line[text : line.index(b" ", text)])] = arrived
    finally:
        sender.close()
        listener.close()

    def latencies(kind: str) -> list[float]:
        return sorted((got[kind][n] - sent_at[n]) * 1000
                      for n in range(LINE_WARMUP, total) if n in got[kind])  # fmt: skip

    receipt, echoed = latencies("receipt"), latencies("echo")
    if not receipt:
        raise RuntimeError("no line reached the listener")
    result: dict[str, Any] = {
        "receipt_p50_ms": percentile(receipt, 0.50),
        "receipt_p99_ms": percentile(receipt, 0.99),
        "receipt_max_ms": receipt[-1],
        "lost": args.lines - len(receipt),
        "echo": echo,
        "placement": where,
    }
    if echo:
        result |= {"echo_p50_ms": percentile(echoed, 0.50) if echoed else None,
                   "echo_p99_ms": percentile(echoed, 0.99) if echoed else None,
                   "echo_max_ms": echoed[-1] if echoed else None,
                   "echo_lost": args.lines - len(echoed)}  # fmt: skip
    return result


# -- systems -------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open while picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def twistedchat(nodes: int) -> Iterator[Target]:
    """``nodes`` real ``twistd chatnode`` processes; served once every node agrees on one
    leader with all nodes voters, and a client registers and joins on every node."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        secret = Path(tmp) / "secret"
        secret.write_text(os.urandom(32).hex())
        discovery, *ports = free_ports(1 + 3 * nodes)
        irc, peer, web = ports[0::3], ports[1::3], ports[2::3]
        procs = []
        for i in range(nodes):
            command = chatnode_command(
                f"{tmp}/n{i}", irc[i], peer[i], web[i], discovery, secret, nodes
            )
            procs.append(_start(stack, command, Path(tmp) / f"n{i}.log"))
        for i, port in enumerate(irc):
            _wait_for_port(port, procs[i], Path(tmp) / f"n{i}.log")
        ids = [f"127.0.0.1:{p}" for p in peer]
        deadline = time.monotonic() + 60
        while True:
            documents = [status(port) for port in web]
            leaders = {d["leader"] for d in documents if d is not None}
            voters = [len(d["voters"]) for d in documents if d is not None]
            if len(leaders) == 1 and None not in leaders and voters == [nodes] * nodes:
                leader = ids.index(leaders.pop())
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no agreed leader with {nodes} voters: {leaders}, {voters}")
            time.sleep(0.2)
        for i, port in enumerate(irc):  # every node serves a registration and a JOIN
            probe = connect(port, f"probe{i}")
            with probe.sock:
                until = time.monotonic() + 30
                register([probe], until)
                probe.send("JOIN #probe\r\n")
                probe.until(numeric(b"366"), until)
        yield Target(irc, [p.pid for p in procs], leader=leader)


@contextmanager
def ngircd() -> Iterator[Target]:
    (port,) = free_ports(1)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        conf = _ngircd_conf(tmp, "s0", port)
        proc = _start(stack, ["ngircd", "--nodaemon", "--config", str(conf)], log)
        _wait_for_port(port, proc, log)
        yield Target([port], [proc.pid], register_chunk=8)  # listen backlog 10


@contextmanager
def miniircd() -> Iterator[Target]:
    (port,) = free_ports(1)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        proc = _start(stack, miniircd_command(port), log)
        _wait_for_port(port, proc, log)
        # listen backlog 5; select(): all clients must stay below FD_SETSIZE
        yield Target([port], [proc.pid], register_chunk=4, max_clients=SELECT_FD_LIMIT - 10)


@contextmanager
def harness() -> Iterator[Target]:
    yield Target([], pipe=True)


@dataclass
class System:
    name: str
    start: Callable[[], AbstractContextManager[Target]]
    cases: tuple[str, ...]
    by_default: tuple[str, ...] | None = None  # cases run unless named (None: all of them)


SYSTEMS: dict[str, System] = {
    "twistedchat3": System(REFERENCE, lambda: twistedchat(3), CASES),
    "twistedchat5": System(
        "twistedchat (5 nodes)", lambda: twistedchat(5), CASES, by_default=("lines",)
    ),
    "twistedchat1": System("twistedchat (1 node)", lambda: twistedchat(1), CASES),
    "ngircd": System("ngircd (1 server)", ngircd, CASES),
    "miniircd": System("miniircd", miniircd, CASES),
    # its one-line latency is tens of microseconds: measured only when asked for
    "harness": System("harness alone (no server)", harness, CASES, by_default=("commits",)),
}


def runs(key: str, case: str, named: bool) -> bool:
    """Whether system ``key`` runs ``case`` (``named``: the user chose the systems)."""
    system = SYSTEMS[key]
    if named or system.by_default is None:
        return case in system.cases
    return case in system.by_default


def selected(patterns: list[str]) -> list[str]:
    if not patterns:
        return list(SYSTEMS)
    keys = [k for k, s in SYSTEMS.items() if any(p in k or p in s.name for p in patterns)]
    if not keys:
        raise SystemExit(f"no system matches {patterns}; systems: {', '.join(SYSTEMS)}")
    return keys


# -- driver --------------------------------------------------------------------------------


def measure(key: str, case: str, senders: int, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    try:
        with SYSTEMS[key].start() as target:
            if case == "commits":
                if target.max_clients and 2 * senders > target.max_clients:
                    return {"error": "skipped: select() limit"}
                result = run_commits(target, senders, args)
            else:
                result = run_lines(target, args)
    except Exception as error:  # one broken baseline must not hide the others
        reason = " ".join(str(error).split()).replace("|", "/")[:160]
        result = {"error": f"failed: {type(error).__name__}: {reason}"}
    what = f"{senders} senders" if case == "commits" else f"{args.lines} lines"
    print(f"  {SYSTEMS[key].name}, {case}, {what}: {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return result


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    env = os.environ.get
    env_senders = [int(n) for n in env("IRC_COMMIT_SENDERS", "20 100").split()]
    env_systems = [s for s in env("IRC_COMMIT_SYSTEMS", "").split(",") if s]
    parser.add_argument("--case", "--cases", dest="cases", nargs="+", choices=CASES,
                        default=[c for c in env("IRC_COMMIT_CASES", ",".join(CASES)).split(",")
                                 if c])  # fmt: skip
    parser.add_argument("--systems", nargs="+", default=env_systems,
                        help=f"keys or parts of names (all): {', '.join(SYSTEMS)}")  # fmt: skip
    parser.add_argument("--senders", type=int, nargs="+", default=env_senders)
    parser.add_argument("--window", type=int, default=32, help="lines in flight per sender")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=4.5, help="seconds measured")
    parser.add_argument("--cap", type=int, default=200_000, help="lines per sender at most")
    parser.add_argument("--workers", type=int, default=int(env("IRC_COMMIT_WORKERS", 2)))
    parser.add_argument("--lines", type=int, default=200, help="lines of case 'lines'")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between lines")
    parser.add_argument("--no-save", action="store_true", help="print only, save no results")
    # a worker process of case "commits" (started by this script)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--ports", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--leader", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--pipe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--register-chunk", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # servers inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.worker:
        args.leader = None if args.leader < 0 else args.leader
        worker(args)
        return
    keys = selected(args.systems)
    commits: dict[int, dict[str, dict[str, Any]]] = {}
    lines: dict[str, dict[str, Any]] = {}
    if "commits" in args.cases:
        print(f"Commits through IRC: N senders, one channel and one listener each, "
              f"{args.window} lines in flight per sender, {args.warmup:g} s warm-up, "
              f"{args.duration:g} s measured\n")  # fmt: skip
        print("| senders | system | messages/s | p50 ms | p99 ms | all, in order "
              "| server CPU % | harness CPU % |")  # fmt: skip
        print("|---:|---|---:|---:|---:|---|---|---:|", flush=True)
        for senders in args.senders:
            commits[senders] = {}
            for key in keys:
                if not runs(key, "commits", bool(args.systems)):
                    continue
                r = commits[senders][SYSTEMS[key].name] = measure(key, "commits", senders, args)
                if "error" in r:
                    print(f"| {senders} | {SYSTEMS[key].name} | {r['error']} | | | | | |")
                    continue
                print(f"| {senders} | {SYSTEMS[key].name} | {r['messages_per_second']:.0f} | "
                      f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['all_in_order']} | "
                      f"{'/'.join(map(str, r['server_cpu_pct'])) or '-'} | "
                      f"{r['harness_cpu_pct']} |", flush=True)  # fmt: skip
        print()
    if "lines" in args.cases:
        print(f"One line at a time: {args.lines} lines, one every {args.interval * 1000:g} ms\n")
        print("| system | receipt p50 ms | p99 ms | max ms | echo p50 ms | p99 ms | max ms "
              "| lost | where |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
        for key in keys:
            if not runs(key, "lines", bool(args.systems)):
                continue
            r = lines[SYSTEMS[key].name] = measure(key, "lines", 0, args)
            if "error" in r:
                print(f"| {SYSTEMS[key].name} | {r['error']} | | | | | | | |")
                continue
            print(f"| {SYSTEMS[key].name} | {fmt(r['receipt_p50_ms'])} | "
                  f"{fmt(r['receipt_p99_ms'])} | {fmt(r['receipt_max_ms'])} | "
                  f"{fmt(r.get('echo_p50_ms'))} | {fmt(r.get('echo_p99_ms'))} | "
                  f"{fmt(r.get('echo_max_ms'))} | {r['lost']} | {r['placement']} |",
                  flush=True)  # fmt: skip
        print()
    if args.no_save:
        return
    plots = plot.irc_commit(commits, lines)
    parameters = {"cases": args.cases, "senders": args.senders, "window": args.window,
                  "warmup_s": args.warmup, "duration_s": args.duration, "cap": args.cap,
                  "workers": args.workers, "lines": args.lines,
                  "interval_ms": round(args.interval * 1000, 3), "line_warmup": LINE_WARMUP,
                  "systems": [SYSTEMS[k].name for k in keys],
                  "reference": REFERENCE}  # fmt: skip
    data = {
        "commits": [{"senders": n, "systems": by_system} for n, by_system in commits.items()],
        "lines": lines,
    }
    results.save("irc_commit", parameters, data, env_prefix="IRC_COMMIT_", plots=plots)


if __name__ == "__main__":
    main()
