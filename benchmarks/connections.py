"""Idle IRC clients one node holds, and resident memory per client, against ngircd.

One system at a time, each started as a subprocess by this script and stopped by its pid at
the end: one ``twistd chatnode`` (a one-node cluster, every registration committed through
Raft with fsync) and ngircd (Debian, C; configured as in :mod:`benchmarks.irc_fanout`).
``CONN_WORKERS`` worker processes open ``CONN_CLIENTS`` connections between them, each
sending NICK/USER and waiting for 001 with at most ``CONN_WINDOW`` registrations in flight
per worker (ngircd listens with a backlog of 10), then keep them idle (answering PING).
The server's VmRSS is read from ``/proc/PID/status`` before the first client and again
once all are registered and ``SETTLE`` seconds have passed; the clients still open then
are the clients held.

    python -m benchmarks.connections [--clients 2000] [--workers 4] [--systems ...]

Environment: CONN_CLIENTS (2000; 10000 works, see docs/BENCHMARKS.md), CONN_WORKERS (4),
CONN_WINDOW (2), CONN_SYSTEMS (comma-separated substrings of system names).
The results are also saved for :mod:`benchmarks.report` (``benchmarks/results/connections.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
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
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks import plot, results
from benchmarks.irc_fanout import _ngircd_conf, free_port
from tests.integration.harness import IRCClient, new_node, wait_for

REFERENCE = "twistedchat (1 node)"
REGISTER_TIMEOUT = 300.0  # seconds for one worker to register all its clients
HOLD_TIMEOUT = 120.0  # a worker closes its clients after this long even if not told to
SETTLE = 2.0  # seconds between the last registration and the second RSS reading
CONNECT_TIMEOUT = 10.0


@dataclass
class Server:
    """A started system: where it listens, its pid, and how many clients it says it has."""

    port: int
    pid: int
    clients: Callable[[], int | None] = lambda: None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# -- workers -------------------------------------------------------------------------------


@dataclass
class _Client:
    sock: socket.socket
    buffer: bytes = b""
    registered: bool = False


def worker(port: int, prefix: str, count: int, window: int, conn: Connection) -> None:
    """Register ``count`` clients, report, keep them idle until told to stop, report again."""
    selector = selectors.DefaultSelector()
    clients: dict[int, _Client] = {}
    started = registered = failed = 0
    errors: list[str] = []
    first = last = 0.0

    def close(fd: int, reason: str) -> None:
        nonlocal failed
        client = clients.pop(fd)
        selector.unregister(client.sock)
        client.sock.close()
        if not client.registered:
            failed += 1
        if len(errors) < 3:
            errors.append(reason)

    def service(timeout: float) -> None:
        nonlocal registered, last
        for key, _ in selector.select(timeout):
            fd = key.fd
            if fd == conn.fileno():
                continue
            client = clients[fd]
            try:
                chunk = client.sock.recv(65536)
            except OSError as error:
                close(fd, repr(error))
                continue
            if not chunk:
                close(fd, f"closed: {client.buffer[-200:]!r}")
                continue
            data = client.buffer + chunk
            *lines, client.buffer = data.split(b"\n")
            for line in lines:
                if line.startswith(b"PING "):
                    with contextlib.suppress(OSError):  # a full buffer: the server drops it
                        client.sock.send(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")
                elif not client.registered and line.split(b" ")[1:2] == [b"001"]:
                    client.registered = True
                    registered += 1
                    last = time.time()

    deadline = time.monotonic() + REGISTER_TIMEOUT
    first = time.time()
    while registered + failed < count and time.monotonic() < deadline:
        while started < count and started - registered - failed < window:
            nick = f"{prefix}{started}"
            started += 1
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
            except OSError as error:
                failed += 1
                if len(errors) < 3:
                    errors.append(repr(error))
                continue
            sock.setblocking(False)
            sock.send(f"NICK {nick}\r\nUSER {nick} 0 * :idle\r\n".encode())
            clients[sock.fileno()] = _Client(sock)
            selector.register(sock, selectors.EVENT_READ)
        service(0.5)
    conn.send({"registered": registered, "failed": failed, "first": first, "last": last,
               "errors": errors})  # fmt: skip
    selector.register(conn, selectors.EVENT_READ)
    hold_until = time.monotonic() + HOLD_TIMEOUT
    while time.monotonic() < hold_until and not conn.poll():
        service(0.5)
    conn.send({"alive": sum(c.registered for c in clients.values())})
    for client in clients.values():
        client.sock.close()


# -- systems -------------------------------------------------------------------------------


@contextmanager
def twistedchat(clients: int) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="bench-conn-") as tmp:
        extra = ["--max-clients", str(clients + 100), "--flood-rate", "0"]
        node = new_node(Path(tmp), "node0", extra)
        try:
            node.start()
            assert node.process is not None
            wait_for(lambda: (node.status() or {}).get("role") == "leader", 60, "a leader")
            IRCClient(node.irc_port, "probe").close()

            def count() -> int | None:
                status = node.status()
                return None if status is None else int(status["clients"])

            wait_for(lambda: count() == 0, 10, "the probe to leave")
            yield Server(node.irc_port, node.process.pid, count)
        finally:
            node.stop()


@contextmanager
def ngircd(clients: int) -> Iterator[Server]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-conn-") as tmp, ExitStack() as stack:
        conf = _ngircd_conf(tmp, "s0", port)
        log = Path(tmp) / "log"
        with log.open("ab") as out:
            command = ["ngircd", "--nodaemon", "--config", str(conf)]
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        stack.callback(_stop, proc)
        probe = wait_for(lambda: _connects(port, proc, log), 30, "ngircd to listen")
        probe.close()
        yield Server(port, proc.pid)


def _connects(port: int, proc: subprocess.Popen[bytes], log: Path) -> IRCClient | None:
    if proc.poll() is not None:
        raise RuntimeError(f"exited with {proc.returncode}: {log.read_text()[-600:]}")
    try:
        return IRCClient(port, "probe")
    except OSError:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


SYSTEMS: dict[str, Callable[[int], AbstractContextManager[Server]]] = {
    REFERENCE: twistedchat,
    "ngircd (1 server)": ngircd,
}


# -- driver --------------------------------------------------------------------------------


def run(server: Server, clients: int, workers: int, window: int) -> dict[str, Any]:
    time.sleep(0.5)
    before = rss_kib(server.pid)
    context = multiprocessing.get_context("fork")
    procs: list[Any] = []
    pipes: list[Connection] = []
    try:
        share = -(-clients // workers)
        for w in range(workers):
            count = min(share, clients - w * share)
            if count <= 0:
                break
            ours, theirs = context.Pipe()
            proc = context.Process(
                target=worker, args=(server.port, f"u{w}_", count, window, theirs), daemon=True
            )
            proc.start()
            theirs.close()
            procs.append(proc)
            pipes.append(ours)
        reports = []
        for pipe in pipes:
            if not pipe.poll(REGISTER_TIMEOUT + 30):
                raise RuntimeError("a worker did not finish registering")
            reports.append(pipe.recv())
        time.sleep(SETTLE)
        after = rss_kib(server.pid)
        server_count = server.clients()
        for pipe in pipes:
            pipe.send("stop")
        alive = 0
        for pipe in pipes:
            if pipe.poll(60):
                alive += int(pipe.recv()["alive"])
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
    registered = sum(r["registered"] for r in reports)
    span = max(r["last"] for r in reports) - min(r["first"] for r in reports)
    return {
        "registered": registered,
        "held": alive,
        "server_count": server_count,
        "failed": sum(r["failed"] for r in reports),
        "errors": [e for r in reports for e in r["errors"]][:3],
        "connect_rate": registered / max(span, 1e-6),
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "kib_per_client": (after - before) / max(alive, 1),
    }


def measure(name: str, clients: int, workers: int, window: int) -> dict[str, Any]:
    started = time.monotonic()
    try:
        with SYSTEMS[name](clients) as server:
            result = run(server, clients, workers, window)
    except Exception as error:  # one broken system must not hide the other
        reason = " ".join(str(error).split()).replace("|", "/")[:160]
        result = {"error": f"failed: {type(error).__name__}: {reason}"}
    print(f"  {name}, {clients} clients: {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return result


def raise_fd_limit(clients: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # servers and workers inherit it
    wanted = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, clients + 4096))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted != resource.RLIM_INFINITY and wanted < clients + 100:
        print(f"warning: the descriptor limit {wanted} is below {clients} clients + 100",
              file=sys.stderr)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    env_systems = [s for s in os.environ.get("CONN_SYSTEMS", "").split(",") if s]
    parser.add_argument("--clients", type=int, default=int(os.environ.get("CONN_CLIENTS", 10000)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("CONN_WORKERS", 4)))
    parser.add_argument("--window", type=int, default=int(os.environ.get("CONN_WINDOW", 2)))
    parser.add_argument("--systems", nargs="+", default=env_systems)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    raise_fd_limit(args.clients)
    names = [n for n in SYSTEMS if not args.systems or any(s in n for s in args.systems)]
    print(
        f"Idle IRC clients, {args.clients} from {args.workers} processes "
        f"({args.window} registrations in flight each); ratios against {REFERENCE}\n"
    )
    measured = {name: measure(name, args.clients, args.workers, args.window) for name in names}
    ref = measured.get(REFERENCE, {})
    print("| system | clients held | connects/s | ratio | RSS before MiB | RSS after MiB "
          "| KiB per client | ratio |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in measured.items():
        if "error" in r:
            print(f"| {name} | {r['error']} | | | | | | |")
            continue
        rate = kib = "n/a"
        if ref and "error" not in ref:
            rate = f"{r['connect_rate'] / ref['connect_rate']:.2f}x"
            kib = f"{r['kib_per_client'] / max(ref['kib_per_client'], 1e-9):.3f}x"
        held = f"{r['held']}/{args.clients}"
        if r["server_count"] is not None:
            held += f" (node says {r['server_count']})"
        if r["failed"]:
            held += f", {r['failed']} failed: {'; '.join(r['errors'])[:120]}"
        print(f"| {name} | {held} | {r['connect_rate']:.0f} | {rate} | "
              f"{r['rss_before_mib']:.1f} | {r['rss_after_mib']:.1f} | "
              f"{r['kib_per_client']:.1f} | {kib} |", flush=True)  # fmt: skip
    good = {n: r for n, r in measured.items() if "error" not in r}
    plots: list[Path | None] = []
    if good and not args.no_plot:
        memory_plot = plot.grouped_bars(
            "connections_memory",
            f"Resident memory per idle IRC client ({args.clients} clients)",
            list(good),
            {"KiB per client": [r["kib_per_client"] for r in good.values()]},
            "KiB of server RSS per client",
        )
        rate_plot = plot.grouped_bars(
            "connections_rate",
            f"Registrations per second ({args.clients} clients, {args.workers} processes)",
            list(good),
            {"connects/s (NICK/USER to 001)": [r["connect_rate"] for r in good.values()]},
            "clients registered per second",
        )
        plots = [memory_plot, rate_plot]
    parameters = {"clients": args.clients, "workers": args.workers, "window": args.window,
                  "settle_s": SETTLE, "systems": names, "reference": REFERENCE}  # fmt: skip
    results.save("connections", parameters, measured, env_prefix="CONN_", plots=plots)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
