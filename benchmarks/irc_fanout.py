"""IRC fan-out: one sender, N receivers in one channel; deliveries/s, latency and CPU.

Systems, side by side in one run, each started as subprocesses by this script and stopped by
pid at the end (:mod:`benchmarks.irc_systems`):

- twistedchat as a 3-node cluster (the reference for the ratios) and as 1 node; receivers
  spread over the nodes, the sender on the leader, every message committed through Raft
  with fsync;
- ngircd (Debian, C), one server and 3 linked servers (a hub and two leaves, receivers
  spread over the three, the sender on the hub), penalties off;
- InspIRCd 3 (Debian, C++), flood and connect limits off;
- miniircd (PyPI, pure Python, one select() loop);
- twisted.words (Twisted's own IRC server, ``benchmarks.twisted_words_server``).

Cases (``--cases``, all by default):

- ``fanout``: for each N of ``--receivers``, two phases on the same receivers, one after
  the other. *burst*: the sender floods ``--messages`` lines in batches of ``BATCH`` (each
  stamped when sent), as fast as TCP takes them. *paced*: then ``--paced-lines`` lines
  (400), one every ``--paced-interval-ms`` (5 ms, so 200 lines/s for 2 s), each stamped
  when sent; its p50/p99 is the latency of a channel that is busy but not flooded.
- ``everyone``: "everyone talks", :mod:`benchmarks.irc_everyone` (50 senders and 2
  listeners in one channel, every sender's 40 lines at once).
- ``spread``: twistedchat, 3 nodes with exactly ``--spread-receivers`` / 3 receivers on
  each (300: 100 a node, checked against each node's ``/status``), beside 1 node with all
  of them and 1 node with a third of them; one burst of ``--spread-messages`` (2000, so a
  node's CPU time is some 40 clock ticks, not 10) from a sender on the leader; each node's
  CPU per 1,000 deliveries to its own clients (does a node spend anything on the members
  of other nodes?).

Every phase reports deliveries/s (deliveries over the time from the first send to the last
arrival), latency p50/p99 (arrival minus stamp), whether every receiver got every line and
all saw one order, and CPU microseconds per delivery: the utime + stime (``/proc/PID/stat``)
of all the system's server processes (all nodes, all linked servers) from just before the
sender starts to just after the last delivery arrived, over the deliveries.

Receivers run in ``FANOUT_WORKERS`` (default 2) worker processes, the sender in this one, so
one Python process does not cap the figures (on a 2-core machine the fastest servers still
share the CPU with the load generator).

    python -m benchmarks.irc_fanout [--receivers 10 100 1000] [--messages 500]
        [--paced-lines 400] [--cases fanout everyone spread] [--systems ...]

Environment: FANOUT_RECEIVERS ("10 100 1000"), FANOUT_MESSAGES (500), FANOUT_PACED_LINES
(400; 0: no paced phase), FANOUT_CASES ("fanout everyone spread"), FANOUT_WORKERS (2),
FANOUT_SYSTEMS (comma-separated substrings of system names to run), FANOUT_QUICKACK (1).
The results are also saved for :mod:`benchmarks.report` (``benchmarks/results/irc_fanout.json``).
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks import irc_everyone, plot, report, results
from benchmarks.irc_systems import (
    CHANNEL,
    CLOCK_TICK,
    REFERENCE,
    SYSTEMS,
    Target,
    cpu,
    register,
    register_many,
    status,
    wait_for_members,
)

# Re-exported: benchmarks.irc_commit and benchmarks.connections import them from here.
from benchmarks.irc_systems import _ngircd_conf as _ngircd_conf
from benchmarks.irc_systems import _start as _start
from benchmarks.irc_systems import _stop as _stop
from benchmarks.irc_systems import _wait_for_port as _wait_for_port
from benchmarks.irc_systems import chatnode_command as chatnode_command
from benchmarks.irc_systems import free_port as free_port
from benchmarks.irc_systems import miniircd_command as miniircd_command

CASES = ("fanout", "everyone", "spread")
WORKERS = int(os.environ.get("FANOUT_WORKERS", "2"))
BATCH = 50
PACED_LINES = 400  # 2 s at one line every 5 ms
PACED_INTERVAL_MS = 5.0
SPREAD_RECEIVERS = 300
SPREAD_MESSAGES = 2000
ONE_NODE = "twistedchat (1 node)"
REGISTER_TIMEOUT = 180.0  # seconds for one worker to register all its receivers
DRAIN_EVERY = 50  # registrations between two reads of the JOIN notices waiting in sockets
RECEIVE_TIMEOUT = 120.0  # seconds for one phase's messages to reach one worker's receivers
# Re-arm TCP_QUICKACK after every read: a server that writes without TCP_NODELAY (Nagle on)
# otherwise waits up to 40 ms for the receivers' delayed ACK, and the figures measure that.
QUICKACK = os.environ.get("FANOUT_QUICKACK", "1") != "0" and hasattr(socket, "TCP_QUICKACK")


# -- load generator ------------------------------------------------------------------------


def node_of(receiver: int, nodes: int) -> int:
    """The index in ``Target.ports`` receiver ``receiver`` connects to (round-robin: with
    ids 0..N-1, every node gets N / nodes when ``nodes`` divides N)."""
    return receiver % nodes


def hold_receivers(target: Target, first: int, count: int) -> list[socket.socket]:
    """Register and join receivers ``first`` .. ``first + count - 1`` (in that order)."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    sockets: list[socket.socket] = []
    step = max(1, target.register_chunk)
    for chunk in range(0, count, step):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"registered only {len(sockets)} of {count} receivers in time")
        ids = range(first + chunk, first + min(chunk + step, count))
        clients = [(target.ports[node_of(i, len(target.ports))], f"r{i}") for i in ids]
        sockets += register_many(clients, target.password, timeout=left)
        if len(sockets) % DRAIN_EVERY < len(clients):
            for sock in sockets:
                _drain(sock)  # JOIN notices pile up in unread sockets otherwise
    return sockets


def worker(target: Target, first: int, count: int, phases: list[int], out: str) -> None:
    """Hold ``count`` receivers; record arrival latency and order of every message.

    ``phases`` are the message counts of the sender's phases (numbered on from one phase to
    the next); ``DONE <phase>`` is printed once every receiver has all of a phase (or after
    ``RECEIVE_TIMEOUT``), which is when the sender starts the next one.
    """
    sockets = hold_receivers(target, first, count)
    print("READY", flush=True)
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, dict[str, Any]] = {}
    for sock in sockets:
        sock.setblocking(False)
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        selector.register(sock, selectors.EVENT_READ)
        state[sock] = {"buffer": b"", "seen": [], "got": [0] * len(phases)}
    ends = list(itertools.accumulate(phases))  # numbers below ends[p] belong to phase p
    latencies: list[list[float]] = [[] for _ in phases]
    last = [0.0] * len(phases)
    pending = [len(sockets)] * len(phases)  # receivers still missing messages of a phase
    phase, deadline = 0, time.monotonic() + RECEIVE_TIMEOUT
    while phase < len(phases):
        if pending[phase] <= 0 or time.monotonic() > deadline:
            print(f"DONE {phase}", flush=True)
            phase, deadline = phase + 1, time.monotonic() + RECEIVE_TIMEOUT
            continue
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj  # type: ignore[assignment]
            record = state[sock]
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            got: list[int] = record["got"]
            if not data:
                selector.unregister(sock)  # disconnected: counted as incomplete
                for p, n in enumerate(got):
                    pending[p] -= n < phases[p]
                continue
            if QUICKACK:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            now = time.time()
            lines = (record["buffer"] + data).split(b"\r\n")
            record["buffer"] = lines.pop()
            seen: list[int] = record["seen"]
            for line in lines:
                if b" PRIVMSG " in line:
                    number, sent = line.rsplit(b":", 1)[1].split(b"@")
                    n = int(number)
                    p = bisect.bisect_right(ends, n)
                    seen.append(n)
                    latencies[p].append(now - float(sent))
                    last[p] = now
                    got[p] += 1
                    if got[p] == phases[p]:
                        pending[p] -= 1
                elif line.startswith(b"PING "):
                    sock.sendall(b"PONG " + line[5:] + b"\r\n")
    orders = {tuple(record["seen"]) for record in state.values()}
    per_node = [0] * len(target.ports)
    for j, sock in enumerate(sockets):  # receiver first + j
        per_node[node_of(first + j, len(target.ports))] += len(state[sock]["seen"])
    result = {
        "phases": [
            {"latencies": latencies[p], "last": last[p],
             "complete": sum(r["got"][p] == phases[p] for r in state.values())}
            for p in range(len(phases))
        ],
        "orders": [list(o) for o in orders],
        "receivers": len(sockets),
        "deliveries_per_node": per_node,
    }  # fmt: skip
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


def send_burst(sender: socket.socket, first: int, count: int) -> None:
    """``count`` lines in batches of ``BATCH``, each batch stamped when sent."""
    for start in range(first, first + count, BATCH):
        stamp = time.time()
        end = min(start + BATCH, first + count)
        batch = "".join(f"PRIVMSG {CHANNEL} :{i}@{stamp:.6f}\r\n" for i in range(start, end))
        sender.sendall(batch.encode())


def send_paced(sender: socket.socket, first: int, count: int, interval: float) -> None:
    """``count`` lines, line k due ``k * interval`` s after the first (late: sent at once),
    each stamped when sent."""
    start = time.perf_counter()
    for k in range(count):
        delay = start + k * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sender.sendall(f"PRIVMSG {CHANNEL} :{first + k}@{time.time():.6f}\r\n".encode())


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    target: Target, receivers: int, phases: list[tuple[str, int]], interval: float
) -> dict[str, Any]:
    """Workers register the receivers, then the sender runs ``phases`` (``burst`` or
    ``paced``, message count) one after the other; the figures of each, by its name."""
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
                       "--phases", *(str(n) for _, n in phases)]  # fmt: skip
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            stack.callback(_stop, proc)
            procs.append(proc)
        for proc in procs:  # readline ends: the worker prints READY or exits
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "READY":
                raise RuntimeError("a worker could not register its receivers")
        sender = register(target.ports[0], "sender", target.password)
        stack.callback(sender.close)
        wait_for_members(sender, receivers + 1)
        clients = [(status(port) or {}).get("clients") for port in target.status_ports]
        windows = []
        first = 0
        for mode, count in phases:
            cpu_from, started = cpu(target.pids), time.time()
            if mode == "burst":
                send_burst(sender, first, count)
            else:
                send_paced(sender, first, count, interval)
            first += count
            for proc in procs:  # "DONE <phase>", or "" if the worker is gone
                assert proc.stdout is not None
                proc.stdout.readline()
            windows.append((started, cpu_from, cpu(target.pids)))
        for proc in procs:
            proc.wait(timeout=60)
        reports = [json.loads(Path(out).read_text()) for out in outs]
    orders = {tuple(order) for r in reports for order in r["orders"]}
    one_order = "yes" if len(orders) == 1 else f"no ({len(orders)} orders)"
    measured: dict[str, Any] = {}
    for p, ((mode, _), (started, cpu_from, cpu_to)) in enumerate(zip(phases, windows, strict=True)):
        latencies = sorted(x for r in reports for x in r["phases"][p]["latencies"])
        if not latencies:
            raise RuntimeError(f"no message of the {mode} phase arrived")
        finished = max(r["phases"][p]["last"] for r in reports)
        used = [b - a for a, b in zip(cpu_from, cpu_to, strict=True)]
        measured[mode] = {
            "deliveries_per_second": len(latencies) / max(finished - started, 1e-6),
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "delivered": f"{sum(r['phases'][p]['complete'] for r in reports)}/{receivers}",
            "one_order": one_order,
            "deliveries": len(latencies),
            "cpu_us_per_delivery": sum(used) / len(latencies) * 1e6,
            "server_cpu_s": [round(x, 3) for x in used],
            "cpu_ticks": round(sum(used) * CLOCK_TICK),
        }
    by_worker = [r["deliveries_per_node"] for r in reports]
    measured["deliveries_per_node"] = [sum(x) for x in zip(*by_worker, strict=True)]
    measured["clients_per_node"] = clients
    return measured


# -- cases ---------------------------------------------------------------------------------


def guarded(label: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``measure()``, or what went wrong (one broken baseline must not hide the others)."""
    started = time.monotonic()
    try:
        result = measure()
    except Exception as error:
        reason = " ".join(str(error).split()).replace("|", "/")[:160]
        result = {"error": f"failed: {type(error).__name__}: {reason}"}
    print(f"  {label}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def fanout(name: str, receivers: int, args: argparse.Namespace) -> dict[str, Any]:
    phases = [("burst", args.messages)]
    if args.paced_lines:
        phases.append(("paced", args.paced_lines))

    def measure() -> dict[str, Any]:
        with SYSTEMS[name]() as target:
            if target.max_receivers and receivers > target.max_receivers:
                return {"error": f"skipped: {target.limit_reason}"}
            measured = run(target, receivers, phases, args.paced_interval_ms / 1000)
            return {mode: measured[mode] for mode, _ in phases}

    return guarded(f"{name}, {receivers} receivers", measure)


def spread(name: str, receivers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One burst of ``--spread-messages`` to ``receivers``; the figures of each node."""

    def measure() -> dict[str, Any]:
        with SYSTEMS[name]() as target:
            measured = run(target, receivers, [("burst", args.spread_messages)], 0)
        nodes = len(target.ports)
        placed = [sum(node_of(i, nodes) == k for i in range(receivers)) for k in range(nodes)]
        clients = measured["clients_per_node"]
        expected = [n + (k == 0) for k, n in enumerate(placed)]  # the sender is on node 0
        if clients != expected:
            raise RuntimeError(f"/status shows {clients} clients per node, not {expected}")
        burst = measured["burst"]
        per_node = [
            {"node": k, "role": target.roles[k], "receivers": placed[k],
             "deliveries": measured["deliveries_per_node"][k],
             "cpu_s": burst["server_cpu_s"][k]}
            for k in range(nodes)
        ]  # fmt: skip
        return {"system": name, "receivers": receivers, "burst": burst, "nodes": per_node}

    return guarded(f"spread: {name}, {receivers} receivers", measure)


# -- driver --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    env_receivers = [int(n) for n in os.environ.get("FANOUT_RECEIVERS", "10 100 1000").split()]
    env_systems = [s for s in os.environ.get("FANOUT_SYSTEMS", "").split(",") if s]
    env_cases = os.environ.get("FANOUT_CASES", " ".join(CASES)).split()
    parser.add_argument("--receivers", type=int, nargs="+", default=env_receivers)
    parser.add_argument("--messages", type=int, default=int(os.environ.get("FANOUT_MESSAGES", 500)))
    parser.add_argument(
        "--paced-lines", type=int, default=int(os.environ.get("FANOUT_PACED_LINES", PACED_LINES))
    )
    parser.add_argument("--paced-interval-ms", type=float, default=PACED_INTERVAL_MS)
    parser.add_argument("--everyone-senders", type=int, default=irc_everyone.SENDERS)
    parser.add_argument("--everyone-lines", type=int, default=irc_everyone.LINES)
    parser.add_argument("--spread-receivers", type=int, default=SPREAD_RECEIVERS)
    parser.add_argument("--spread-messages", type=int, default=SPREAD_MESSAGES)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=env_cases)
    parser.add_argument(
        "--systems",
        nargs="+",
        default=env_systems,
        help="substrings of system names to run (default: all)",
    )
    parser.add_argument("--worker")
    parser.add_argument("--ports", type=int, nargs="+")
    parser.add_argument("--password", default="")
    parser.add_argument("--register-chunk", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--phases", type=int, nargs="+")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # servers inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.worker:
        target = Target(args.ports, args.password, register_chunk=args.register_chunk)
        worker(target, args.first, args.count, args.phases, args.worker)
        return
    names = [n for n in SYSTEMS if not args.systems or any(s in n for s in args.systems)]
    print(f"IRC fan-out ({', '.join(args.cases)}), {WORKERS} load processes; ratios against "
          f"{REFERENCE}", file=sys.stderr, flush=True)  # fmt: skip
    data: dict[str, Any] = {"fanout": [], "everyone": {}, "spread": {}}
    if "fanout" in args.cases:
        for receivers in args.receivers:
            by_system = {name: fanout(name, receivers, args) for name in names}
            data["fanout"].append({"receivers": receivers, "systems": by_system})
    if "everyone" in args.cases:
        for name in names:
            everyone = functools.partial(
                irc_everyone.measure, name, args.everyone_senders, args.everyone_lines
            )
            data["everyone"][name] = guarded(f"everyone talks: {name}", everyone)
    if "spread" in args.cases:
        n = args.spread_receivers
        for name, receivers in ((REFERENCE, n), (ONE_NODE, n), (ONE_NODE, n // 3)):
            if name in names:
                data["spread"][f"{name}, {receivers}"] = spread(name, receivers, args)
    parameters = {"cases": args.cases, "receivers": args.receivers, "messages": args.messages,
                  "batch": BATCH, "paced_lines": args.paced_lines,
                  "paced_interval_ms": args.paced_interval_ms,
                  "everyone_senders": args.everyone_senders,
                  "everyone_listeners": irc_everyone.LISTENERS,
                  "everyone_lines": args.everyone_lines,
                  "spread_receivers": args.spread_receivers,
                  "spread_messages": args.spread_messages, "workers": WORKERS,
                  "quickack": QUICKACK, "systems": names, "reference": REFERENCE}  # fmt: skip
    for part, lines in report.fanout_tables(parameters, data).items():
        print(f"\n{report.FANOUT_PARTS[part][0]}\n", *lines, sep="\n", flush=True)
    plots = plot.fanout(data["fanout"], args.paced_interval_ms) if data["fanout"] else []
    results.save("irc_fanout", parameters, data, env_prefix="FANOUT_", plots=plots)


if __name__ == "__main__":
    main()
