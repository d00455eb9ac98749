"""Start and stop real ``twistd chatnode`` processes on loopback, and talk IRC to them.

Every process a test starts is stopped by that test, by its pid (fixtures guarantee it).
Ports are picked free by binding to port 0 first; a clash is unlikely on loopback and
shows up as a clear start-up failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Every port this test run handed out. A port is free when asked for, but its process
#: binds it only later: without this, the next call could hand the same port to another
#: process, and a client of one would reach the other.
_HANDED_OUT: set[int] = set()


def free_ports(count: int) -> list[int]:
    """``count`` loopback TCP ports free now and never handed out before in this run."""
    sockets = []
    while len(sockets) < count:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        if s.getsockname()[1] in _HANDED_OUT:
            s.close()  # the kernel may offer it again: ask for another
            continue
        _HANDED_OUT.add(s.getsockname()[1])
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


#: The venv's own twistd, so the nodes run exactly what ``pip install`` put there.
TWISTD = str(Path(sys.executable).with_name("twistd"))


@dataclass
class Node:
    """One ``twistd chatnode`` process and its addresses."""

    data_dir: Path
    irc_port: int
    peer_port: int
    status_port: int
    joins: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def node_id(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    def command(self) -> list[str]:
        command = [
            TWISTD, "-n", "--pidfile=", "chatnode",
            "--data-dir", str(self.data_dir),
            "--irc", f"tcp:{self.irc_port}:interface=127.0.0.1",
            "--peer", f"tcp:{self.peer_port}:interface=127.0.0.1",
            "--status", f"tcp:{self.status_port}:interface=127.0.0.1",
            *self.extra,
        ]  # fmt: skip
        for address in self.joins:
            command += ["--join", address]
        return command

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent
        )
        log.close()

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """kill -9: no clean shutdown at all."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def status(self) -> dict[str, Any] | None:
        try:
            url = f"http://127.0.0.1:{self.status_port}/status"
            with urllib.request.urlopen(url, timeout=2) as response:
                result: dict[str, Any] = json.load(response)
                return result
        except OSError:
            return None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@dataclass
class Gateway:
    """One ``twistd chatgateway`` process finding the cluster of ``root`` by broadcast."""

    root: Path
    port: int
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            TWISTD, "-n", "--pidfile=", "chatgateway",
            "--listen", f"tcp:{self.port}:interface=127.0.0.1",
            "--broadcast", "127.255.255.255", "--keepalive", "1",
            *cluster_options(self.root, insecure_peers=False), *self.extra,
        ]  # fmt: skip
        with open(self.root / f"gateway-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
        wait_for(self._listening, 30, "the gateway to listen")

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        path = self.root / f"gateway-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster_options(root: Path, *, insecure_peers: bool = True) -> list[str]:
    """Options every node of one test's cluster shares: its own name, discovery port and
    secret, so clusters of tests running side by side never hear each other. Nodes use
    plain TCP between them (``--insecure-peers``) unless a test brings certificates
    (tests/security) and passes ``insecure_peers=False``, as does the gateway, which has
    no peer links."""
    secret = root / "cluster.secret"
    if not secret.exists():
        root.mkdir(parents=True, exist_ok=True)
        secret.write_text(os.urandom(32).hex() + "\n")
    return [
        "--cluster", f"test-{root.name}", "--discovery-port", str(free_udp_port_for(root)),
        "--secret-file", str(secret), *(["--insecure-peers"] if insecure_peers else []),
    ]  # fmt: skip


def free_udp_port_for(root: Path) -> int:
    """One discovery port per test directory, chosen once."""
    record = root / "discovery.port"
    if not record.exists():
        record.write_text(str(free_udp_port()))
    return int(record.read_text())


def new_node(root: Path, name: str, extra: Iterable[str] = ()) -> Node:
    irc, peer, status = free_ports(3)
    return Node(root / name, irc, peer, status, extra=[*cluster_options(root), *extra])


def make_cluster(root: Path, size: int, extra: Iterable[str] = ()) -> list[Node]:
    """``size`` fresh nodes that find each other by broadcast and form one cluster."""
    return [
        new_node(root, f"node{i}", ["--bootstrap-expect", str(size), *extra]) for i in range(size)
    ]


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def leader_of(nodes: Iterable[Node]) -> Node | None:
    """The node every live node agrees leads, if they agree."""
    live = [n for n in nodes if n.alive()]
    statuses = [n.status() for n in live]
    if not statuses or any(s is None for s in statuses):
        return None
    leaders = {s["leader"] for s in statuses if s is not None}
    if len(leaders) != 1 or None in leaders:
        return None
    (leader_id,) = leaders
    return next((n for n in live if n.node_id == leader_id), None)


class IRCClient:
    """A blocking, line-oriented IRC client for driving real nodes in tests."""

    def __init__(self, port: int, nick: str | None = None, *, caps: Iterable[str] = ()):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.lines: list[str] = []
        self.nick = nick
        if nick is not None:
            self.register(nick, caps)

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line within {timeout}s; got so far: {self.lines[-5:]}")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; last lines: {self.lines[-5:]}")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n", 1)
        line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        self.lines.append(line)
        if line.startswith("PING "):
            self.send("PONG " + line[5:])
        return line

    def expect(self, *needles: str, timeout: float = 10.0) -> str:
        """Read until a line containing one of ``needles`` arrives; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(deadline - time.monotonic(), 0.01))
            if any(needle in line for needle in needles):
                return line

    def register(self, nick: str, caps: Iterable[str] = ()) -> None:
        caps = list(caps)
        if caps:
            self.send("CAP LS 302")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick} test user")
        if caps:
            self.send(f"CAP REQ :{' '.join(caps)}")
            self.expect("ACK")
            self.send("CAP END")
        self.expect(" 001 ")
        self.expect(" 376 ", " 422 ")
        self.nick = nick

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
