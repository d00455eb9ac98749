"""Start and stop real ``twistd chatnode`` processes on loopback, and talk IRC to them.

Every process a test starts is stopped by that test, by its pid (fixtures guarantee it).
Ports are picked free by binding to port 0 first; a clash is unlikely on loopback and
shows up as a clear start-up failure.

Every node and gateway process is watched (:class:`Watch`): a test fails (in teardown,
see ``tests/integration/conftest.py``) when one of them exited by itself, was found dead,
did not stop on SIGTERM, or logged a traceback or a critical line, unless the test ended
it (``kill()``, ``stop()``, ``signal(SIGKILL or SIGTERM)``) or declared the exit with
``expect_exit(code, why)``. Absence checks ("no second copy arrived") wait for a later
message with :func:`sentinel` instead of sleeping.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Every port this test run handed out. A port is free when asked for, but its process
#: binds it only later: without this, the next call could hand the same port to another
#: process, and a client of one would reach the other.
_HANDED_OUT: set[int] = set()


def free_ports(count: int) -> list[int]:
    """``count`` loopback TCP ports free now and never handed out before in this run."""
    sockets: list[socket.socket] = []
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


#: Log lines that mean a process hit a bug, whatever its exit code: an exception nobody
#: handled, or a line logged at critical level (``log.failure`` logs there).
FAULT_MARKERS = ("Unhandled error in Deferred", "Traceback (most recent call last)", "#critical]")

#: How a process may end when the test ended it, by the signal it sent. twistd shuts down
#: cleanly on SIGTERM, then re-raises it to say why it stopped: -15 is its clean exit.
ENDED_BY = {signal.SIGKILL: (-signal.SIGKILL,), signal.SIGTERM: (0, -signal.SIGTERM)}


@dataclass
class Run:
    """One process of a node or gateway, and what its test said about its end."""

    process: subprocess.Popen[bytes]
    log_from: int  # where this process's output starts in the (shared, appended) log file
    ended_by: str | None = None  # "SIGKILL" or "SIGTERM": the test ended it, with that
    expected_code: int | None = None
    expected_why: str = ""
    hung: bool = False  # did not exit within the stop timeout of SIGTERM


@dataclass
class Watch:
    """Every process one node (or gateway) ran, and whether each ended as the test meant.

    A node restarted by its test runs several processes, all appended to one log file.
    """

    what: str
    log_path: Path
    runs: list[Run] = field(default_factory=list)
    pending: tuple[int, str] | None = None  # expect_exit before the first start
    tolerated: list[tuple[str, str]] = field(default_factory=list)  # (log needle, why)

    def started(self, process: subprocess.Popen[bytes], log_from: int) -> None:
        run = Run(process, log_from)
        if self.pending is not None:
            run.expected_code, run.expected_why = self.pending
            self.pending = None
        self.runs.append(run)

    def expect_exit(self, code: int, why: str) -> None:
        """The process started last (or, before any start, the next one) is meant to exit
        by itself with ``code``; any other end of it is a fault."""
        if not self.runs:
            self.pending = (code, why)
        else:
            self.runs[-1].expected_code, self.runs[-1].expected_why = code, why

    def tolerate_log(self, needle: str, why: str) -> None:
        """Fault-marker lines containing ``needle`` are expected (say ``why``)."""
        self.tolerated.append((needle, why))

    def signalled(self, signum: int) -> None:
        """The test is about to send ``signum`` to the running process."""
        if signum in ENDED_BY and self.runs and self.runs[-1].ended_by is None:
            self.runs[-1].ended_by = signal.Signals(signum).name

    def faults(self) -> list[str]:
        """What went wrong with any process so far, one line each (none: all as meant)."""
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        problems = []
        for number, run in enumerate(self.runs):
            pid = run.process.pid
            until = self.runs[number + 1].log_from if number + 1 < len(self.runs) else len(data)
            output = data[run.log_from : until].decode(errors="replace")
            code = run.process.poll()
            if run.expected_code is not None:
                if code != run.expected_code:
                    ended = "is still running" if code is None else f"exited {code}"
                    problems.append(
                        f"{self.what} (pid {pid}) {ended}, but the test expected exit "
                        f"{run.expected_code} ({run.expected_why})"
                    )
            elif run.hung:
                problems.append(f"{self.what} (pid {pid}) did not exit on SIGTERM (killed)")
            elif run.ended_by is not None:
                expected = ENDED_BY[signal.Signals[run.ended_by]]
                if code is not None and code not in expected:
                    problems.append(
                        f"{self.what} (pid {pid}) exited {code} after the test's "
                        f"{run.ended_by} (expected {' or '.join(map(str, expected))})"
                    )
            elif code is not None:
                problems.append(f"{self.what} (pid {pid}) exited {code} by itself")
            lines = [
                line
                for line in output.splitlines()
                if any(marker in line for marker in FAULT_MARKERS)
                and not any(needle in line for needle, _ in self.tolerated)
            ]
            if lines:
                problems.append(
                    f"{self.what} (pid {pid}) logged {len(lines)} traceback or critical "
                    f"line(s), first: {lines[0].strip()}"
                )
        return problems

    def report(self, problems: list[str], tail: int = 60) -> str:
        """``problems``, the first traceback or critical line with what follows it, and
        the last ``tail`` lines of the log (status polls left out), for a failure."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        lines = [line for line in text.splitlines() if '"GET /status' not in line]
        marked = [
            i
            for i, line in enumerate(lines)
            if any(m in line for m in FAULT_MARKERS)
            and not any(needle in line for needle, _ in self.tolerated)
        ]
        excerpt = ""
        if marked:
            excerpt = "\n".join(lines[max(marked[0] - 3, 0) : marked[0] + 40]) + "\n...\n"
        ending = "\n".join(lines[-tail:])
        return "\n".join(problems) + f"\n--- {self.log_path}:\n{excerpt}{ending}"


#: Every node and gateway started since the last :func:`watched_processes` began (in
#: this test), so the fixture can stop and check each of them, however the test made it.
STARTED: list[Node | Gateway] = []


def stop_and_check(processes: Iterable[Node | Gateway]) -> str | None:
    """Stop every process still running (SIGTERM, by pid), then say what went wrong
    with any of them: a readable report, or None if every process ended as meant."""
    processes = list(processes)
    for each in processes:
        each.stop()
    reports = []
    for each in processes:
        problems = each.watch.faults()
        if problems:
            reports.append(each.watch.report(problems))
    return "\n\n".join(reports) or None


@contextlib.contextmanager
def watched_processes() -> Iterator[list[Node | Gateway]]:
    """Inside: every node and gateway started is recorded; on leaving, all are stopped
    and checked, and an AssertionError names any that crashed or logged a traceback."""
    STARTED.clear()
    body_failed = True
    try:
        yield STARTED
        body_failed = False
    finally:
        started, STARTED[:] = list(STARTED), []
        report = stop_and_check(started)
        if report is not None and body_failed:  # the body's own error propagates
            print(f"a process the test started failed too:\n{report}")
    if report is not None:
        raise AssertionError(f"a process the test started failed:\n{report}")


@dataclass
class Node:
    """One ``twistd chatnode`` process and its addresses."""

    data_dir: Path
    irc_port: int
    peer_port: int
    status_port: int
    joins: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to the process's environment
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    watch: Watch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.watch = Watch(f"node {self.data_dir.name}", path)

    @property
    def node_id(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    def expect_exit(self, code: int, why: str) -> None:
        """This node's last started process (or its next, before any) is meant to exit by
        itself with ``code``, e.g. 1 for bad start-up options; see :class:`Watch`."""
        self.watch.expect_exit(code, why)

    def tolerate_log(self, needle: str, why: str) -> None:
        """A traceback or critical line containing ``needle`` is expected, for ``why``."""
        self.watch.tolerate_log(needle, why)

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
        self.log_path = self.watch.log_path
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        log_from = log.tell()  # the child shares this offset once it runs
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent,
            env={**os.environ, **self.env},
        )  # fmt: skip
        self.watch.started(self.process, log_from)
        log.close()
        if self not in STARTED:
            STARTED.append(self)

    def signal(self, signum: int) -> None:
        """Send ``signum``; SIGKILL and SIGTERM count as the test ending the process."""
        if self.process is not None and self.process.poll() is None:
            self.watch.signalled(signum)
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
        self.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.watch.runs[-1].hung = True
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
    watch: Watch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.watch = Watch(f"gateway {self.port}", self.root / f"gateway-{self.port}.log")

    def expect_exit(self, code: int, why: str) -> None:
        self.watch.expect_exit(code, why)

    def tolerate_log(self, needle: str, why: str) -> None:
        self.watch.tolerate_log(needle, why)

    def start(self) -> None:
        command = [
            TWISTD, "-n", "--pidfile=", "chatgateway",
            "--listen", f"tcp:{self.port}:interface=127.0.0.1",
            "--broadcast", "127.255.255.255", "--keepalive", "1",
            *cluster_options(self.root, insecure_peers=False), *self.extra,
        ]  # fmt: skip
        with open(self.watch.log_path, "ab") as log:
            log_from = log.tell()  # the child shares this offset once it runs
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
            self.watch.started(self.process, log_from)
        if self not in STARTED:
            STARTED.append(self)
        wait_for(self._listening, 30, "the gateway to listen")

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def signal(self, signum: int) -> None:
        """Send ``signum``; SIGKILL and SIGTERM count as the test ending the process."""
        if self.process is not None and self.process.poll() is None:
            self.watch.signalled(signum)
            os.kill(self.process.pid, signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.watch.runs[-1].hung = True
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        path = self.watch.log_path
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


#: How long a test cluster's fresh nodes wait for a stable view before founding (the
#: default is 1.5 s). Safe here: every node waits for all ``size`` of them
#: (``--bootstrap-expect``) and never founds before this long after its own start.
TEST_BOOTSTRAP_SETTLE = "0.5"


def make_cluster(root: Path, size: int, extra: Iterable[str] = ()) -> list[Node]:
    """``size`` fresh nodes that find each other by broadcast and form one cluster. A test
    that sets its own ``--bootstrap-expect`` (fewer founders than nodes) keeps the
    default settle, so nodes started together still found together."""
    extra = list(extra)
    settle = [] if "--bootstrap-expect" in extra else ["--bootstrap-settle", TEST_BOOTSTRAP_SETTLE]
    return [
        new_node(root, f"node{i}", ["--bootstrap-expect", str(size), *settle, *extra])
        for i in range(size)
    ]


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


_SENTINELS = itertools.count(1)


def sentinel(
    sender: IRCClient,
    target: str,
    *readers: IRCClient | Callable[[str], bool],
    timeout: float = 30.0,
) -> str:
    """Wait until nothing more can arrive before a fresh message: the way to check that
    something did *not* arrive (no duplicate, no second copy), instead of a sleep.

    ``sender`` says a new, unique line to ``target`` (a channel every reader is in, or a
    reader's nick); it goes through the log after everything committed so far, so total
    order delivers it to every reader after any copy of what came before. Each reader is
    an :class:`IRCClient` read here until the line arrives (what came before it is in its
    ``lines``) or, for a client another thread reads, a predicate told the line's text
    and true once that reader has it. Returns the text; assert the absence afterwards.
    """
    text = f"sentinel-{next(_SENTINELS)}-{os.getpid()}"
    sender.send(f"PRIVMSG {target} :{text}")
    for reader in readers:
        if isinstance(reader, IRCClient):
            reader.expect(f" PRIVMSG {target} :{text}", timeout=timeout)
        else:
            wait_for(lambda has=reader: has(text), timeout, f"the sentinel {text}", interval=0.02)
    return text


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


def sasl_client(
    port: int, nick: str, account: str, password: str, caps: Iterable[str] = ()
) -> IRCClient:
    """A client registering as ``nick`` that logs in by SASL PLAIN as ``account`` first
    (asking for ``caps`` too); returned once it sent CAP END, before the welcome."""
    client = IRCClient(port)
    client.send("CAP LS 302")
    client.send(f"CAP REQ :{' '.join(['sasl', *caps])}")
    client.expect(" ACK ")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    client.send("AUTHENTICATE " + base64.b64encode(f"\0{account}\0{password}".encode()).decode())
    client.expect(" 903 ")
    client.send("CAP END")
    return client
