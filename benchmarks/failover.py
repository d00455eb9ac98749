"""Leader failover of a 3-node cluster under client load: twistedchat against PySyncObj.

Each round: wait for a stable cluster (every node agrees on one leader, all three are
voters, all have applied the same index), connect ``FAILOVER_CLIENTS`` fresh clients spread
round-robin over the nodes, wait until every client's writes come back steadily, SIGKILL the
leader, measure, restart the killed node with its data, and start the next round.

Every client sends one write every 50 ms, staggered, and times each one until its commit
comes back: for twistedchat a plain IRC client (CAP ``echo-message``) sending ``PRIVMSG`` to
a channel of its own and waiting for the echo, which the node sends once the line is
committed through Raft and applied; for PySyncObj a line ``SEQ`` to a small server in each
node process (``--pysyncobj-node``) that proposes it with a ``@replicated`` call and answers
``OK SEQ`` from the commit callback. Both use the same election timeouts (400-800 ms) and
heartbeat period (80 ms); PySyncObj ticks every 5 ms, as in :mod:`benchmarks.raft_commit`.

Measured from the SIGKILL (all on one monotonic clock):

- *new leader*: a survivor's status (``GET /status`` role, or PySyncObj's ``getStatus()``,
  polled every 10 ms) says it is the leader;
- *first new commit*: the first write sent after the kill comes back, from any client;
- *last client served*: every client has had a write that was sent after the kill come back
  (a write sent before the kill and answered later does not count). Clients whose node was
  killed see the connection close and reconnect as plain clients to the next node (IRC:
  a new nick, JOIN again; each needs a commit), reported separately as *moved*.

    python -m benchmarks.failover [--kills 20] [--clients 10] [--systems ...]

Environment: FAILOVER_KILLS (20), FAILOVER_CLIENTS (10), FAILOVER_SYSTEMS (comma-separated
substrings of system names). Every round is also saved for :mod:`benchmarks.report`
(``benchmarks/results/failover.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import plot, results
from tests.integration.harness import Node, free_ports, leader_of, make_cluster, wait_for

PERIOD = 0.05  # seconds between two writes of one client
REFERENCE = "twistedchat"
BASELINE = "PySyncObj"
STEADY_TIMEOUT = 30.0  # seconds for fresh clients to be served steadily
SERVED_TIMEOUT = 30.0  # seconds after a kill for every client to be served again
STABLE_TIMEOUT = 60.0  # seconds for a restarted node to rejoin a stable cluster
CONNECT_TIMEOUT = 0.5


# -- clients -------------------------------------------------------------------------------


@dataclass
class Client:
    """One load client: its nodes (home first), its writes in flight and what it saw."""

    index: int
    ports: list[int]
    round_no: int
    state: str = "down"  # down, registering, ready
    sock: socket.socket | None = None
    buffer: bytes = b""
    port_index: int = 0
    attempt: int = 0
    retry_at: float = 0.0
    next_send: float = 0.0
    seq: int = 0
    sent: dict[int, float] = field(default_factory=dict)
    echoes: int = 0
    last_echo: float = 0.0
    moved: bool = False  # its connection closed after the kill
    served_at: float | None = None  # first write sent after the kill came back
    connected_at: float | None = None  # times of the last (re)connection's steps
    welcomed_at: float | None = None

    @property
    def nick(self) -> str:
        return f"f{self.round_no}c{self.index}r{self.attempt}"

    @property
    def channel(self) -> str:
        return f"#f{self.index}"


class Load(threading.Thread):
    """Runs every client of one round in one selector loop; the main thread kills nodes."""

    def __init__(self, kind: str, ports: Sequence[Sequence[int]], round_no: int) -> None:
        super().__init__(daemon=True)
        self.kind = kind  # "irc" or "line"
        self.clients = [Client(i, list(p), round_no) for i, p in enumerate(ports)]
        self.kill_time: float | None = None
        self.stopping = threading.Event()
        self.selector = selectors.DefaultSelector()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as error:
            self.error = error
        finally:
            for client in self.clients:
                if client.sock is not None:
                    client.sock.close()
            self.selector.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def steady(self) -> bool:
        if self.error is not None:
            raise RuntimeError(f"load loop failed: {self.error!r}")
        now = time.monotonic()
        return all(c.echoes >= 3 and now - c.last_echo < 4 * PERIOD for c in self.clients)

    def all_served(self) -> bool:
        return all(c.served_at is not None for c in self.clients)

    def _loop(self) -> None:
        now = time.monotonic()
        for client in self.clients:
            self._connect(client, now)
        while not self.stopping.is_set():
            now = time.monotonic()
            wake = now + PERIOD
            for client in self.clients:
                if client.state == "ready":
                    if client.next_send <= now:
                        self._send(client, now)
                    wake = min(wake, client.next_send)
                elif client.state == "down":
                    if client.retry_at <= now:
                        self._connect(client, now)
                    wake = min(wake, client.retry_at if client.state == "down" else wake)
            for key, _ in self.selector.select(max(0.0, wake - time.monotonic())):
                self._read(key.data)

    def _connect(self, client: Client, now: float) -> None:
        port = client.ports[client.port_index % len(client.ports)]
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
        except OSError:
            client.port_index += 1  # a plain client tries the next address it knows
            client.retry_at = now + 0.01
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        client.sock, client.buffer = sock, b""
        client.connected_at, client.welcomed_at = now, None
        self.selector.register(sock, selectors.EVENT_READ, client)
        if self.kind == "irc":
            client.state = "registering"
            nick = client.nick
            self._write(client, f"CAP REQ :echo-message\r\nNICK {nick}\r\n"
                                f"USER {nick} 0 * :failover\r\nCAP END\r\n")  # fmt: skip
        else:
            self._ready(client, time.monotonic())

    def _ready(self, client: Client, now: float) -> None:
        client.state = "ready"
        client.next_send = now + client.index * PERIOD / len(self.clients)  # staggered

    def _drop(self, client: Client, now: float) -> None:
        if client.sock is not None:
            self.selector.unregister(client.sock)
            client.sock.close()
        client.sock, client.state = None, "down"
        if self.kill_time is not None and now >= self.kill_time:
            client.moved = True
        client.port_index += 1
        client.attempt += 1
        client.retry_at = now

    def _write(self, client: Client, text: str) -> None:
        assert client.sock is not None
        try:
            client.sock.sendall(text.encode())
        except BlockingIOError:
            pass  # a full send buffer: the node is not reading; the write counts as lost
        except OSError:
            self._drop(client, time.monotonic())

    def _send(self, client: Client, now: float) -> None:
        client.seq += 1
        client.sent[client.seq] = now
        if self.kind == "irc":
            self._write(client, f"PRIVMSG {client.channel} :{client.seq}\r\n")
        else:
            self._write(client, f"{client.seq}\n")
        client.next_send = max(client.next_send + PERIOD, now)

    def _read(self, client: Client) -> None:
        if client.sock is None:
            return
        now = time.monotonic()
        try:
            chunk = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(client, now)
            return
        *lines, client.buffer = (client.buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if self.kind == "irc":
                self._irc_line(client, line, now)
            elif line.startswith("OK "):
                self._echo(client, line[3:], now)

    def _irc_line(self, client: Client, line: str, now: float) -> None:
        if line.startswith("PING "):
            self._write(client, f"PONG {line[5:]}\r\n")
            return
        parts = line.split(" ")
        command = parts[1] if line.startswith(":") and len(parts) > 1 else parts[0]
        if command == "001":
            client.welcomed_at = now
            self._write(client, f"JOIN {client.channel}\r\n")
        elif command == "366" and client.state == "registering":
            self._ready(client, now)
        elif command == "433":  # nick still taken (a session of an earlier round)
            client.attempt += 1
            self._write(client, f"NICK {client.nick}\r\n")
        elif command == "PRIVMSG" and len(parts) > 3 and parts[2] == client.channel:
            self._echo(client, line.partition(" :")[2], now)

    def _echo(self, client: Client, text: str, now: float) -> None:
        try:
            sent = client.sent.pop(int(text.split()[0]), None)
        except (ValueError, IndexError):
            return
        client.echoes += 1
        client.last_echo = now
        kill = self.kill_time
        if kill is not None and sent is not None and sent >= kill and client.served_at is None:
            client.served_at = now


# -- systems -------------------------------------------------------------------------------


class Cluster:
    """Three nodes of one system, started, killed and restarted by pid."""

    kind = "irc"
    nodes: Sequence[Any]

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def client_port(self, node: Any) -> int:
        raise NotImplementedError

    def says_leader(self, node: Any) -> bool:
        raise NotImplementedError

    def stable_leader(self) -> Any:
        """The leader, if every node agrees on it, all are voters and all caught up."""
        raise NotImplementedError


class Twistedchat(Cluster):
    kind = "irc"

    def __init__(self, root: Path) -> None:
        self.nodes = make_cluster(root, 3, ["--flood-rate", "0"])

    def client_port(self, node: Node) -> int:
        return node.irc_port

    def says_leader(self, node: Node) -> bool:
        status = node.status()
        return status is not None and status["role"] == "leader"

    def stable_leader(self) -> Node | None:
        if not all(n.alive() for n in self.nodes):
            return None
        leader = leader_of(self.nodes)
        statuses = [n.status() for n in self.nodes]
        if leader is None or any(s is None for s in statuses):
            return None
        applied = {s["applied_index"] for s in statuses if s is not None}
        voters = {len(s["voters"]) for s in statuses if s is not None}
        return leader if len(applied) == 1 and voters == {3} else None


@dataclass
class SyncObjNode:
    """One PySyncObj process (``--pysyncobj-node``) with its line server for clients."""

    index: int
    raft_ports: list[int]
    control_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def node_id(self) -> str:
        return f"127.0.0.1:{self.raft_ports[self.index]}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "benchmarks.failover", "--pysyncobj-node",
                   str(self.index), "--raft-ports", *map(str, self.raft_ports),
                   "--control", str(self.control_port), "--data", str(self.data_dir)]  # fmt: skip
        with (self.data_dir.parent / f"{self.data_dir.name}.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()  # the baseline keeps nothing worth a clean shutdown

    def status(self) -> dict[str, Any] | None:
        try:
            with socket.create_connection(("127.0.0.1", self.control_port), timeout=2) as sock:
                sock.sendall(b"STATUS\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    data += chunk
            result: dict[str, Any] = json.loads(data.decode().partition(" ")[2])
            return result
        except (OSError, ValueError):
            return None


class SyncObjCluster(Cluster):
    kind = "line"

    def __init__(self, root: Path) -> None:
        raft, control = free_ports(3), free_ports(3)
        self.nodes = [SyncObjNode(i, raft, control[i], root / f"pso{i}") for i in range(3)]

    def client_port(self, node: SyncObjNode) -> int:
        return node.control_port

    def says_leader(self, node: SyncObjNode) -> bool:
        status = node.status()
        return status is not None and status.get("leader") == status.get("self")

    def stable_leader(self) -> SyncObjNode | None:
        if not all(n.alive() for n in self.nodes):
            return None
        statuses = [n.status() for n in self.nodes]
        if any(s is None for s in statuses):
            return None
        leaders = {s["leader"] for s in statuses if s is not None}
        commits = {s["commit_idx"] for s in statuses if s is not None}
        if len(leaders) != 1 or None in leaders or len(commits) != 1:
            return None
        (leader,) = leaders
        return next((n for n in self.nodes if n.node_id == leader), None)


SYSTEMS: dict[str, Callable[[Path], Cluster]] = {
    REFERENCE: Twistedchat,
    BASELINE: SyncObjCluster,
}


# -- driver --------------------------------------------------------------------------------


def stable_leader(cluster: Cluster) -> Any:
    """Wait for a leader that stays the same over two checks 0.5 s apart."""

    def check() -> Any:
        first = cluster.stable_leader()
        if first is None:
            return None
        time.sleep(0.5)
        return first if cluster.stable_leader() is first else None

    return wait_for(check, STABLE_TIMEOUT, "a stable cluster", interval=0.2)


def one_round(cluster: Cluster, round_no: int, clients: int) -> dict[str, Any]:
    leader = stable_leader(cluster)
    nodes = list(cluster.nodes)
    ports = [cluster.client_port(n) for n in nodes]
    homes = [[*ports[i % 3 :], *ports[: i % 3]] for i in range(clients)]
    load = Load(cluster.kind, homes, round_no)
    load.start()
    try:
        wait_for(load.steady, STEADY_TIMEOUT, "every client served steadily")
        time.sleep(0.3)
        survivors = [n for n in nodes if n is not leader]
        kill = load.kill_time = time.monotonic()
        leader.kill()
        elected = None
        deadline = kill + SERVED_TIMEOUT
        while time.monotonic() < deadline and not load.all_served():
            if elected is None:
                if any(cluster.says_leader(n) for n in survivors):
                    elected = time.monotonic() - kill
                else:
                    time.sleep(0.01)
            else:
                time.sleep(0.02)
    finally:
        load.stop()
        if not leader.alive():
            leader.start()
    served = [(c.served_at - kill, c.moved) for c in load.clients if c.served_at is not None]
    moved = [t for t, m in served if m]
    stayed = [t for t, m in served if not m]
    return {
        "elected": elected,
        "first_commit": min((t for t, _ in served), default=None),
        "last_served": max((t for t, _ in served), default=None),
        "last_moved": max(moved, default=None),
        "last_stayed": max(stayed, default=None),
        "moved": sum(c.moved for c in load.clients),
        "unserved": sum(c.served_at is None for c in load.clients),
    }


def measure(name: str, kills: int, clients: int) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        cluster = SYSTEMS[name](Path(tmp))
        try:
            cluster.start()
            for round_no in range(kills):
                try:
                    rounds.append(one_round(cluster, round_no, clients))
                except Exception as error:  # report the rounds that completed
                    print(f"  {name}: round {round_no} failed: {error!r}", file=sys.stderr)
                    for node in cluster.nodes:  # a node killed by the failed round
                        if not node.alive():
                            node.start()
        finally:
            cluster.stop()
    print(f"  {name}, {kills} kills: {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return rounds


METRICS = {
    "elected": "new leader",
    "first_commit": "first new commit",
    "last_stayed": "last client served (stayed)",
    "last_moved": "last client served (moved)",
    "last_served": "last client served (all)",
}


def summary(rounds: list[dict[str, Any]], key: str) -> tuple[float, float, int] | None:
    values = [r[key] * 1000 for r in rounds if r.get(key) is not None]
    return (statistics.median(values), max(values), len(values)) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    env_systems = [s for s in os.environ.get("FAILOVER_SYSTEMS", "").split(",") if s]
    parser.add_argument("--kills", type=int, default=int(os.environ.get("FAILOVER_KILLS", 20)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("FAILOVER_CLIENTS", 10)))
    parser.add_argument("--systems", nargs="+", default=env_systems)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--pysyncobj-node", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raft-ports", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pysyncobj_node is not None:
        syncobj_node(args.pysyncobj_node, args.raft_ports, args.control, Path(args.data))
        return
    names = [n for n in SYSTEMS if not args.systems or any(s in n for s in args.systems)]
    print(
        f"Leader failover, 3 nodes, SIGKILL of the leader {args.kills} times, {args.clients} "
        f"clients writing every {PERIOD * 1000:.0f} ms; ms after the kill, ratios against "
        f"{BASELINE} (below 1: faster than it)\n"
    )
    measured = {name: measure(name, args.kills, args.clients) for name in names}
    print("| system | measure | median ms | max ms | rounds | median ratio | max ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, rounds in measured.items():
        for key, label in METRICS.items():
            s, base = summary(rounds, key), summary(measured.get(BASELINE, []), key)
            if s is None:
                print(f"| {name} | {label} | n/a | n/a | 0 | | |")
                continue
            ratio = ("", "")
            if base is not None:
                ratio = (f"{s[0] / base[0]:.2f}x", f"{s[1] / base[1]:.2f}x")
            print(f"| {name} | {label} | {s[0]:.0f} | {s[1]:.0f} | {s[2]} | "
                  f"{ratio[0]} | {ratio[1]} |")  # fmt: skip
        moved = sum(r["moved"] for r in rounds)
        unserved = sum(r["unserved"] for r in rounds)
        print(f"\n{name}: {len(rounds)} rounds completed, {moved} client moves, "
              f"{unserved} clients not served within {SERVED_TIMEOUT:.0f} s\n")  # fmt: skip
    plots: list[Path | None] = []
    if not args.no_plot and measured:
        groups = {
            f"{name}: {METRICS[key]}": [r[key] * 1000 for r in rounds if r[key] is not None]
            for key in ("first_commit", "last_served")
            for name, rounds in measured.items()
        }
        plot_path = plot.points(
            "failover",
            f"Time from SIGKILL of the leader (3 nodes, {args.clients} clients, "
            f"{args.kills} kills); bar: median",
            groups,
            "ms after the kill",
        )
        plots = [plot_path]
    parameters = {"kills": args.kills, "clients": args.clients, "period_ms": PERIOD * 1000,
                  "served_timeout_s": SERVED_TIMEOUT, "systems": names,
                  "reference": REFERENCE, "baseline": BASELINE}  # fmt: skip
    results.save("failover", parameters, measured, env_prefix="FAILOVER_", plots=plots)


# -- the PySyncObj node --------------------------------------------------------------------


def syncobj_node(index: int, raft_ports: list[int], control: int, data: Path) -> None:
    """A PySyncObj node whose line server proposes each ``SEQ`` line and answers on commit."""
    from pysyncobj import SyncObj, SyncObjConf, replicated

    class Log(SyncObj):
        def __init__(self, me: str, partners: list[str], conf: SyncObjConf) -> None:
            super().__init__(me, partners, conf)
            self.count = 0

        @replicated
        def append(self, item: str) -> int:
            self.count += 1
            return self.count

    addresses = [f"127.0.0.1:{port}" for port in raft_ports]
    conf = SyncObjConf(
        journalFile=str(data / "journal"),
        fullDumpFile=str(data / "dump"),
        appendEntriesUseBatch=True,
        commandsQueueSize=100_000,
        raftMinTimeout=0.4,  # twistedchat: --election-timeout 400, drawn from [400, 800) ms
        raftMaxTimeout=0.8,
        appendEntriesPeriod=0.08,  # twistedchat: heartbeat every 2 ticks of 40 ms
        autoTickPeriod=0.005,
    )
    node = Log(addresses[index], [a for a in addresses if a != addresses[index]], conf)
    write_lock = threading.Lock()

    def reply(sock: socket.socket, seq: str) -> Callable[[Any, int], None]:
        def done(result: Any, error: int) -> None:
            with write_lock, contextlib.suppress(OSError):
                sock.sendall(f"{'OK' if error == 0 else 'ERR'} {seq} {error}\n".encode())

        return done

    listener = socket.create_server(("127.0.0.1", control))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffers: dict[socket.socket, bytes] = {}
    while True:  # runs until killed
        for key, _ in selector.select(1.0):
            if key.fileobj is listener:
                sock, _ = listener.accept()
                buffers[sock] = b""
                selector.register(sock, selectors.EVENT_READ)
                continue
            sock = key.fileobj  # type: ignore[assignment]
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                selector.unregister(sock)
                buffers.pop(sock, None)
                sock.close()
                continue
            *lines, buffers[sock] = (buffers[sock] + chunk).split(b"\n")
            for raw in lines:
                line = raw.decode().strip()
                if line == "STATUS":
                    status = json.dumps(node.getStatus(), default=str)
                    with write_lock:
                        sock.sendall(f"STATUS {status}\n".encode())
                elif line:
                    node.append(line, callback=reply(sock, line))


if __name__ == "__main__":
    main()
