"""IRC fan-out: one sender, N receivers in one channel; deliveries/s and latency p50/p99.

Systems, side by side in one run, each started as subprocesses by this script and stopped by
pid at the end:

- twistedchat as a 3-node cluster (the reference for the ratios) and as 1 node; receivers
  spread over the nodes, every message committed through Raft with fsync;
- ngircd (Debian, C), one server and 3 linked servers (a hub and two leaves, receivers
  spread over the three, the sender on the hub), penalties off;
- InspIRCd 3 (Debian, C++), flood and connect limits off;
- miniircd (PyPI, pure Python, one select() loop);
- twisted.words (Twisted's own IRC server, ``benchmarks.twisted_words_server``).

Receivers run in ``FANOUT_WORKERS`` (default 2) worker processes, the sender in this one, so
one Python process does not cap the figures (on a 2-core machine the fastest servers still
share the CPU with the load generator). Every receiver must see every message and all must
see the same order; both are reported per system, not assumed.

    python -m benchmarks.irc_fanout [--receivers 10 100] [--messages 500] [--systems ...]

Environment: FANOUT_RECEIVERS="10 100 1000" (default "10 100"), FANOUT_MESSAGES (500),
FANOUT_WORKERS (2), FANOUT_SYSTEMS (comma-separated substrings of system names to run).
The results are also saved for :mod:`benchmarks.report` (``benchmarks/results/irc_fanout.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import plot, results

CHANNEL = "#bench"
REFERENCE = "twistedchat (3 nodes)"
WORKERS = int(os.environ.get("FANOUT_WORKERS", "2"))
BATCH = 50
REGISTER_TIMEOUT = 180.0  # seconds for one worker to register all its receivers
DRAIN_EVERY = 50  # registrations between two reads of the JOIN notices waiting in sockets
RECEIVE_TIMEOUT = 120.0  # seconds for all messages to reach one worker's receivers
# Re-arm TCP_QUICKACK after every read: a server that writes without TCP_NODELAY (Nagle on)
# otherwise waits up to 40 ms for the receivers' delayed ACK, and the figures measure that.
QUICKACK = os.environ.get("FANOUT_QUICKACK", "1") != "0" and hasattr(socket, "TCP_QUICKACK")
SELECT_FD_LIMIT = 1024  # miniircd uses select(): no descriptor may be >= FD_SETSIZE


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


# -- load generator ------------------------------------------------------------------------


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


def worker(target: Target, first: int, count: int, messages: int, out: str) -> None:
    """Hold ``count`` receivers; record arrival latency and order until all messages arrived."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    sockets: list[socket.socket] = []
    step = max(1, target.register_chunk)
    for chunk in range(0, count, step):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"registered only {len(sockets)} of {count} receivers in time")
        ids = range(first + chunk, first + min(chunk + step, count))
        clients = [(target.ports[i % len(target.ports)], f"r{i}") for i in ids]
        sockets += register_many(clients, target.password, timeout=left)
        if len(sockets) % DRAIN_EVERY < len(clients):
            for sock in sockets:
                _drain(sock)  # JOIN notices pile up in unread sockets otherwise
    print("READY", flush=True)
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, dict[str, list[int] | bytes]] = {}
    for sock in sockets:
        sock.setblocking(False)
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        selector.register(sock, selectors.EVENT_READ)
        state[sock] = {"buffer": b"", "seen": []}
    latencies: list[float] = []
    done, last = 0, 0.0
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while done < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj  # type: ignore[assignment]
            record = state[sock]
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if QUICKACK:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not data:
                selector.unregister(sock)  # disconnected: counted as incomplete
                continue
            now = time.time()
            lines = (record["buffer"] + data).split(b"\r\n")  # type: ignore[operator]
            record["buffer"] = lines.pop()
            seen: list[int] = record["seen"]  # type: ignore[assignment]
            for line in lines:
                if b" PRIVMSG " in line:
                    number, sent = line.rsplit(b":", 1)[1].split(b"@")
                    seen.append(int(number))
                    latencies.append(now - float(sent))
                    last = now
                    if len(seen) == messages:
                        done += 1
                elif line.startswith(b"PING "):
                    sock.sendall(b"PONG " + line[5:] + b"\r\n")
    orders = {tuple(record["seen"]) for record in state.values()}
    result = {"latencies": latencies, "orders": [list(o) for o in orders], "complete": done,
              "receivers": len(sockets), "last": last}  # fmt: skip
    Path(out).write_text(json.dumps(result))
    for sock in sockets:
        sock.close()


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
        sock.settimeout(30)


def run(target: Target, receivers: int, messages: int) -> dict[str, float | str]:
    """One measurement: workers register the receivers, then one sender floods the channel."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        procs, outs = [], []
        workers = max(1, min(WORKERS, receivers))
        share = -(-receivers // workers)
        for w in range(workers):
            count = min(share, receivers - w * share)
            if count <= 0:
                break
            out = f"{tmp}/w{w}.json"
            outs.append(out)
            command = [sys.executable, "-m", "benchmarks.irc_fanout", "--worker", out,
                       "--ports", *map(str, target.ports), "--password", target.password,
                       "--register-chunk", str(target.register_chunk),
                       "--first", str(w * share), "--count", str(count),
                       "--messages", str(messages)]  # fmt: skip
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            stack.callback(_stop, proc)
            procs.append(proc)
        for proc in procs:  # readline ends: the worker prints READY or exits
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "READY":
                raise RuntimeError("a worker could not register its receivers")
        sender = register(target.ports[0], "sender", target.password)
        stack.callback(sender.close)
        wait_until = time.monotonic() + 30
        while (members := channel_size(sender)) < receivers + 1:
            if time.monotonic() > wait_until:  # linked servers: every JOIN must have arrived
                raise RuntimeError(f"the sender sees {members} of {receivers + 1} members")
            time.sleep(0.2)
        started = time.time()
        for first in range(0, messages, BATCH):  # batches, each stamped when sent
            stamp = time.time()
            last = min(first + BATCH, messages)
            batch = "".join(f"PRIVMSG {CHANNEL} :{i}@{stamp:.6f}\r\n" for i in range(first, last))
            sender.sendall(batch.encode())
        for proc in procs:
            proc.wait(timeout=RECEIVE_TIMEOUT + 30)
        reports = [json.loads(Path(out).read_text()) for out in outs]
    latencies = sorted(x for r in reports for x in r["latencies"])
    orders = {tuple(order) for r in reports for order in r["orders"]}
    complete = sum(r["complete"] for r in reports)
    finished = max(r["last"] for r in reports)
    if not latencies:
        raise RuntimeError("no message arrived")
    return {
        "deliveries_per_second": len(latencies) / max(finished - started, 1e-6),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "delivered": f"{complete}/{receivers}",
        "one_order": "yes" if len(orders) == 1 else f"no ({len(orders)} orders)",
    }


# -- systems -------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop one started process by its pid and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


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
        yield Target([port])


@contextmanager
def ngircd_linked(count: int = 3) -> Iterator[Target]:
    """A hub (s0) and leaves that connect to it; measured once LINKS shows all on every one."""
    ports = [free_port() for _ in range(count)]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        block = "[Server]\nName = {}.bench\nHost = 127.0.0.1\nPort = {}\nMyPassword = benchpw\n"
        block += "PeerPassword = benchpw\nPassive = {}\n"
        hub = "".join(block.format(f"s{i}", ports[i], "yes") for i in range(1, count))
        for i, port in enumerate(ports):
            servers = hub if i == 0 else block.format("s0", ports[0], "no")
            log = Path(tmp) / f"s{i}.log"
            conf = _ngircd_conf(tmp, f"s{i}", port, servers)
            proc = _start(stack, ["ngircd", "--nodaemon", "--config", str(conf)], log)
            _wait_for_port(port, proc, log)
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
        yield Target(ports)


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
        yield Target([port], register_chunk=50)


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
        yield Target([port], max_receivers=SELECT_FD_LIMIT - 10, limit_reason="select() limit")


@contextmanager
def twisted_words() -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        log = Path(tmp) / "log"
        command = [sys.executable, "-m", "benchmarks.twisted_words_server", str(port)]
        proc = _start(stack, command, log)
        _wait_for_port(port, proc, log)
        yield Target([port], password="bench")


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


@contextmanager
def twistedchat(nodes: int) -> Iterator[Target]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        secret = Path(tmp) / "secret"
        secret.write_text(os.urandom(32).hex())
        discovery = free_port()
        ports, procs = [], []
        for i in range(nodes):
            irc, peer, status = free_port(), free_port(), free_port()
            ports.append(irc)
            command = chatnode_command(f"{tmp}/n{i}", irc, peer, status, discovery, secret, nodes)
            procs.append(_start(stack, command, Path(tmp) / f"n{i}.log"))
        for i, port in enumerate(ports):
            _wait_for_port(port, procs[i], Path(tmp) / f"n{i}.log")
        _wait_until_registration_works(ports)
        yield Target(ports)


SYSTEMS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    REFERENCE: lambda: twistedchat(3),
    "twistedchat (1 node)": lambda: twistedchat(1),
    "ngircd (1 server)": ngircd,
    "ngircd (3 linked servers)": ngircd_linked,
    "InspIRCd (1 server)": inspircd,
    "miniircd": miniircd,
    "twisted.words": twisted_words,
}


# -- driver --------------------------------------------------------------------------------


def measure(name: str, receivers: int, messages: int) -> dict[str, float | str]:
    started = time.monotonic()
    try:
        with SYSTEMS[name]() as target:
            if target.max_receivers and receivers > target.max_receivers:
                return {"error": f"skipped: {target.limit_reason}"}
            result = run(target, receivers, messages)
    except Exception as error:  # one broken baseline must not hide the others
        reason = " ".join(str(error).split()).replace("|", "/")[:160]
        result = {"error": f"failed: {type(error).__name__}: {reason}"}
    print(f"  {name}, {receivers} receivers: {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return result


def table(receivers: int, measured: dict[str, dict[str, float | str]]) -> list[str]:
    ref = measured.get(REFERENCE, {})
    rows = []
    for name, r in measured.items():
        if "error" in r:
            rows.append(f"| {receivers} | {name} | {r['error']} | | | | | |")
            continue
        dps, p99 = float(r["deliveries_per_second"]), float(r["p99_ms"])
        ratio = p99_ratio = "n/a"
        if "error" not in ref and ref:
            ratio = f"{dps / float(ref['deliveries_per_second']):.2f}x"
            p99_ratio = f"{p99 / float(ref['p99_ms']):.2f}x"
        rows.append(f"| {receivers} | {name} | {dps:.0f} | {ratio} | {float(r['p50_ms']):.1f} | "
                    f"{p99:.1f} ({p99_ratio}) | {r['delivered']} | {r['one_order']} |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    env_receivers = [int(n) for n in os.environ.get("FANOUT_RECEIVERS", "10 100 1000").split()]
    env_systems = [s for s in os.environ.get("FANOUT_SYSTEMS", "").split(",") if s]
    parser.add_argument("--receivers", type=int, nargs="+", default=env_receivers)
    parser.add_argument("--messages", type=int, default=int(os.environ.get("FANOUT_MESSAGES", 500)))
    parser.add_argument("--systems", nargs="+", default=env_systems,
                        help="substrings of system names to run (default: all)")  # fmt: skip
    parser.add_argument("--worker")
    parser.add_argument("--ports", type=int, nargs="+")
    parser.add_argument("--password", default="")
    parser.add_argument("--register-chunk", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # servers inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.worker:
        target = Target(args.ports, args.password, register_chunk=args.register_chunk)
        worker(target, args.first, args.count, args.messages, args.worker)
        return
    names = [n for n in SYSTEMS if not args.systems or any(s in n for s in args.systems)]
    print(f"IRC fan-out, {args.messages} messages from one sender, {WORKERS} receiver "
          f"processes; ratios against {REFERENCE}\n")  # fmt: skip
    header = [
        "| receivers | system | deliveries/s | ratio | p50 ms | p99 ms (ratio) "
        "| receivers with all | one order |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    print("\n".join(header), flush=True)
    collected: dict[int, dict[str, dict[str, float | str]]] = {}
    for receivers in args.receivers:
        measured = {name: measure(name, receivers, args.messages) for name in names}
        print("\n".join(table(receivers, measured)), flush=True)
        collected[receivers] = measured
    plots = plot.fanout(collected)
    parameters = {"receivers": args.receivers, "messages": args.messages, "batch": BATCH,
                  "workers": WORKERS, "quickack": QUICKACK, "systems": names,
                  "reference": REFERENCE}  # fmt: skip
    rows = [{"receivers": n, "systems": by_system} for n, by_system in collected.items()]
    results.save("irc_fanout", parameters, rows, env_prefix="FANOUT_", plots=plots)


if __name__ == "__main__":
    main()
