"""The IRC servers the fan-out benchmarks start, and the blocking client helpers they share.

Each system is a context manager that starts its server processes (subprocesses of the
benchmark, stopped by pid when the context ends) and yields a :class:`Target`: where they
listen and their pids, so a benchmark can read their CPU time from ``/proc`` (:func:`cpu`).
Used by :mod:`benchmarks.irc_fanout` and :mod:`benchmarks.irc_everyone`; the configuration of
every system is described in ``docs/BENCHMARKS.md`` ("IRC fan-out").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHANNEL = "#bench"
REFERENCE = "twistedchat (3 nodes)"
SELECT_FD_LIMIT = 1024  # miniircd uses select(): no descriptor may be >= FD_SETSIZE
CLOCK_TICK = os.sysconf("SC_CLK_TCK")  # the unit of utime and stime in /proc/PID/stat


@dataclass
class Target:
    """Where a started system listens; ``password`` is sent as PASS (twisted.words wants one)."""

    ports: list[int]
    password: str = ""
    max_receivers: int = 0  # 0: no limit known
    # receivers a worker registers at once: 1 (one after the other) keeps within small listen
    # backlogs (ngircd 10, miniircd 5: an overflow costs 1-3 s SYN retries)
    register_chunk: int = 1
    limit_reason: str = ""
    pids: list[int] = field(default_factory=list)  # every server process, for its CPU time
    roles: list[str] = field(default_factory=list)  # per port, where known: leader, follower
    status_ports: list[int] = field(default_factory=list)  # twistedchat: HTTP /status per port


# -- clients -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register(port: int, nick: str, password: str = "", timeout: float = 60) -> socket.socket:
    return register_many([(port, nick)], password, timeout)[0]


def register_many(
    clients: list[tuple[int, str]], password: str = "", timeout: float = 60
) -> list[socket.socket]:
    """Connect and register all ``clients`` (port, nick) at once, then JOIN each (InspIRCd
    refuses JOIN before 001, and completes registrations only on its 1 s tick); return once
    every JOIN's end of NAMES (366) arrived."""
    deadline = time.monotonic() + timeout
    login = f"PASS {password}\r\n" if password else ""
    sockets: list[socket.socket] = []
    try:
        for port, nick in clients:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sockets.append(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle in figures
            sock.sendall(f"{login}NICK {nick}\r\nUSER {nick} 0 * :bench\r\n".encode())
        buffers = [b""] * len(sockets)
        for numeric, then in ((b" 001 ", f"JOIN {CHANNEL}\r\n"), (b" 366 ", "")):
            for i, sock in enumerate(sockets):
                buffers[i] = _expect(sock, buffers[i], numeric, deadline)
                sock.sendall(then.encode())
        return sockets
    except BaseException:
        for sock in sockets:
            sock.close()
        raise


def _expect(sock: socket.socket, buffer: bytes, numeric: bytes, deadline: float) -> bytes:
    """Read until ``numeric`` arrives (answering PINGs); return what came after it."""
    while numeric not in buffer:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no{numeric.decode()}in time: {buffer[-300:]!r}")
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed during registration: {buffer[-300:]!r}")
        buffer = buffer[-600:] + chunk
        for line in buffer.split(b"\r\n")[:-1]:
            if line.startswith(b"PING "):
                sock.sendall(b"PONG " + line[5:] + b"\r\n")
    return buffer.split(numeric, 1)[1]


def query(sock: socket.socket, command: str, end: bytes, timeout: float = 10) -> list[bytes]:
    """Send ``command``; return the lines received up to and including numeric ``end``."""
    sock.sendall(command.encode() + b"\r\n")
    deadline = time.monotonic() + timeout
    buffer, lines = b"", []
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed while waiting for the answer to {command}")
        parts = (buffer + chunk).split(b"\r\n")
        buffer = parts.pop()
        for line in parts:
            lines.append(line)
            if line.split(b" ")[1:2] == [end]:
                return lines
            if line.startswith(b"PING "):
                sock.sendall(b"PONG " + line[5:] + b"\r\n")
    raise TimeoutError(f"no {end.decode()} within {timeout:.0f} s after {command}")


def channel_size(sock: socket.socket) -> int:
    names = query(sock, f"NAMES {CHANNEL}", b"366")
    return sum(
        len(line.split(b" :", 1)[1].split()) for line in names if line.split(b" ")[1:2] == [b"353"]
    )


def wait_for_members(sock: socket.socket, members: int, timeout: float = 30) -> None:
    """Poll NAMES until ``sock``'s server shows ``members`` in the channel (linked servers:
    until every JOIN has arrived there)."""
    deadline = time.monotonic() + timeout
    while (seen := channel_size(sock)) < members:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the channel shows {seen} of {members} members")
        time.sleep(0.2)


def cpu(pids: list[int]) -> list[float]:
    """User + system CPU seconds of each process so far (``/proc/PID/stat``, all its threads;
    a resolution of one clock tick, 10 ms), 0 for one that is gone."""
    seconds = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            seconds.append(0.0)
            continue
        seconds.append((int(fields[11]) + int(fields[12])) / CLOCK_TICK)
    return seconds


def status(port: int) -> dict[str, Any] | None:
    """A twistedchat node's ``GET /status`` document, or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
            document: dict[str, Any] = json.load(answer)
            return document
    except OSError:
        return None


# -- systems -------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop one started process by its pid and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def start_load(
    stack: ExitStack, commands: list[list[str]], what: str
) -> list[subprocess.Popen[str]]:
    """Start one load process per command (stopped by pid when ``stack`` closes) and wait
    until each printed READY; ``what`` says what a process failed to get ready."""
    procs = []
    for command in commands:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        stack.callback(_stop, proc)
        procs.append(proc)
    for proc in procs:  # readline ends: the process prints READY or exits
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"a load process could not {what}")
    return procs


def release(procs: list[subprocess.Popen[str]], delay: float = 0.2) -> float:
    """Tell every load process to start at one moment, ``delay`` seconds from now
    (``GO <time>`` on its stdin); returns that moment."""
    start = time.time() + delay
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"GO {start:.6f}\n")
        proc.stdin.flush()
    return start


def _start(stack: ExitStack, command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(_stop, proc)
    return proc


def _wait_for_port(
    port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {log.read_text()[-600:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}: {log.read_text()[-600:]}")


def _wait_until_registration_works(ports: list[int], password: str = "") -> None:
    """A cluster serves once it has a leader: wait until a test client gets 366 on each node."""
    deadline = time.monotonic() + 60
    for i, port in enumerate(ports):
        while True:
            try:
                register(port, f"probe{i}", password, timeout=10).close()
                break
            except OSError:  # includes ConnectionError and TimeoutError
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _ngircd_conf(tmp: str, name: str, port: int, servers: str = "") -> Path:
    conf = Path(tmp) / f"{name}.conf"
    conf.write_text(
        f"[Global]\nName = {name}.bench\nInfo = bench\nListen = 127.0.0.1\nPorts = {port}\n"
        f"PidFile = {tmp}/{name}.pid\nMotdPhrase = bench\n"
        "[Limits]\nMaxConnections = 0\nMaxConnectionsIP = 0\nMaxJoins = 0\n"
        "MaxPenaltyTime = 0\nPingTimeout = 600\nPongTimeout = 600\nConnectRetry = 5\n"
        "[Options]\nDNS = no\nIdent = no\nPAM = no\n" + servers
    )
    return conf


@contextmanager
def ngircd() -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        conf = _ngircd_conf(tmp, "s0", port)
        proc = _start(stack, ["ngircd", "--nodaemon", "--config", str(conf)], log)
        _wait_for_port(port, proc, log)
        yield Target([port], pids=[proc.pid])


@contextmanager
def ngircd_linked(count: int = 3) -> Iterator[Target]:
    """A hub (s0) and leaves that connect to it; measured once LINKS shows all on every one."""
    ports = [free_port() for _ in range(count)]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        block = "[Server]\nName = {}.bench\nHost = 127.0.0.1\nPort = {}\nMyPassword = benchpw\n"
        block += "PeerPassword = benchpw\nPassive = {}\n"
        hub = "".join(block.format(f"s{i}", ports[i], "yes") for i in range(1, count))
        pids = []
        for i, port in enumerate(ports):
            servers = hub if i == 0 else block.format("s0", ports[0], "no")
            log = Path(tmp) / f"s{i}.log"
            conf = _ngircd_conf(tmp, f"s{i}", port, servers)
            proc = _start(stack, ["ngircd", "--nodaemon", "--config", str(conf)], log)
            _wait_for_port(port, proc, log)
            pids.append(proc.pid)
        deadline = time.monotonic() + 30
        for i, port in enumerate(ports):
            probe = register(port, f"link{i}")
            try:
                while len([x for x in query(probe, "LINKS", b"365") if b" 364 " in x]) < count:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"s{i} does not see all {count} servers linked")
                    time.sleep(0.2)
            finally:
                probe.close()
        yield Target(ports, pids=pids, roles=["hub"] + ["leaf"] * (count - 1))


@contextmanager
def inspircd() -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        conf = Path(tmp) / "inspircd.conf"
        conf.write_text(
            '<server name="bench.inspircd" description="bench" network="bench">\n'
            '<admin name="bench" nick="bench" email="bench@localhost">\n'
            f'<bind address="127.0.0.1" port="{port}" type="clients">\n'
            # threshold/commandrate high and fakelag off: no penalty, no flood kill
            '<connect name="main" allow="*" timeout="60" pingfreq="600" hardsendq="100M"'
            ' softsendq="100M" recvq="10M" threshold="1000000" commandrate="1000000000"'
            ' fakelag="no" localmax="100000" globalmax="100000" maxconnwarn="no"'
            ' resolvehostnames="no" useident="no" limit="100000" maxchans="20">\n'
            '<performance softlimit="20000" somaxconn="1024" quietbursts="yes"'
            ' netbuffersize="65534">\n'
            '<options syntaxhints="no">\n'
        )
        log = Path(tmp) / "log"
        command = ["inspircd", "--config", str(conf), "--nofork", "--nopid", "--runasroot"]
        proc = _start(stack, command, log)
        _wait_for_port(port, proc, log)
        # InspIRCd completes registrations on its 1 s tick: register many at once
        yield Target([port], register_chunk=50, pids=[proc.pid])


def miniircd_command(port: int) -> list[str]:
    """miniircd on loopback ``port`` (as root it must be told it may run as root)."""
    command = [str(Path(sys.executable).with_name("miniircd")), "--listen", "127.0.0.1",
               "--ports", str(port)]  # fmt: skip
    if os.geteuid() == 0:
        command += ["--setuid", "root"]
    return command


@contextmanager
def miniircd() -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        proc = _start(stack, miniircd_command(port), log)
        _wait_for_port(port, proc, log)
        # select(): receivers, sender, listener, stdio and a probe must stay below FD_SETSIZE
        yield Target([port], max_receivers=SELECT_FD_LIMIT - 10, limit_reason="select() limit",
                     pids=[proc.pid])  # fmt: skip


@contextmanager
def twisted_words() -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        command = [sys.executable, "-m", "benchmarks.twisted_words_server", str(port)]
        proc = _start(stack, command, log)
        _wait_for_port(port, proc, log)
        yield Target([port], password="bench", pids=[proc.pid])


def chatnode_command(
    data_dir: str, irc: int, peer: int, status: int, discovery: int, secret: Path, nodes: int
) -> list[str]:
    """One benchmark node of a cluster of ``nodes``: loopback ports, plain TCP between
    nodes, no flood control and no client limit (the load comes from one address)."""
    return [
        str(Path(sys.executable).with_name("twistd")), "-n", "--pidfile=", "chatnode",
        "--data-dir", data_dir,
        "--irc", f"tcp:{irc}:interface=127.0.0.1",
        "--peer", f"tcp:{peer}:interface=127.0.0.1",
        "--status", f"tcp:{status}:interface=127.0.0.1",
        "--cluster", f"bench{os.getpid()}", "--discovery-port", str(discovery),
        "--secret-file", str(secret), "--bootstrap-expect", str(nodes), "--insecure-peers",
        "--flood-rate", "0", "--max-clients", "100000",
    ]  # fmt: skip


def _leader(peers: list[int], web: list[int], timeout: float = 60) -> int:
    """The index of the node every node names as leader, once all ``len(peers)`` are voters."""
    ids = [f"127.0.0.1:{p}" for p in peers]
    deadline = time.monotonic() + timeout
    while True:
        documents = [status(port) for port in web]
        leaders = {d["leader"] for d in documents if d is not None}
        voters = [len(d["voters"]) for d in documents if d is not None]
        if len(leaders) == 1 and None not in leaders and voters == [len(peers)] * len(peers):
            return ids.index(leaders.pop())
        if time.monotonic() > deadline:
            raise RuntimeError(f"no agreed leader with {len(peers)} voters: {leaders}, {voters}")
        time.sleep(0.2)


@contextmanager
def twistedchat(nodes: int) -> Iterator[Target]:
    """``nodes`` ``twistd chatnode`` processes, yielded with the leader first (a benchmark's
    sender on ``ports[0]`` writes to the leader), once a client registers on every node."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        secret = Path(tmp) / "secret"
        secret.write_text(os.urandom(32).hex())
        discovery = free_port()
        ports, peers, web, procs = [], [], [], []
        for i in range(nodes):
            irc, peer, status_port = free_port(), free_port(), free_port()
            ports.append(irc)
            peers.append(peer)
            web.append(status_port)
            command = chatnode_command(
                f"{tmp}/n{i}", irc, peer, status_port, discovery, secret, nodes
            )
            procs.append(_start(stack, command, Path(tmp) / f"n{i}.log"))
        for i, port in enumerate(ports):
            _wait_for_port(port, procs[i], Path(tmp) / f"n{i}.log")
        leader = _leader(peers, web)
        order = [leader] + [i for i in range(nodes) if i != leader]
        _wait_until_registration_works(ports)
        yield Target(
            [ports[i] for i in order],
            pids=[procs[i].pid for i in order],
            roles=["leader"] + ["follower"] * (nodes - 1),
            status_ports=[web[i] for i in order],
        )


SYSTEMS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    REFERENCE: lambda: twistedchat(3),
    "twistedchat (1 node)": lambda: twistedchat(1),
    "ngircd (1 server)": ngircd,
    "ngircd (3 linked servers)": ngircd_linked,
    "InspIRCd (1 server)": inspircd,
    "miniircd": miniircd,
    "twisted.words": twisted_words,
}
