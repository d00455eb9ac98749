"""IRC "everyone talks": every member of one channel but two is a sender, all at once.

``SENDERS`` (50) senders and ``LISTENERS`` (2) pure listeners, 52 members of one channel.
Every sender writes its ``LINES`` (40) lines in one write, all senders at the same moment
(one start time given to every load process), so the server takes 2,000 lines from 50
connections at once and delivers each to the 51 other members: 102,000 deliveries (no
``echo-message``, so a sender does not get its own lines; one it gets anyway is counted,
not used). Members are placed round-robin over the system's ports (twistedchat 3 nodes:
18, 17 and 17 members; 3 linked ngircd servers likewise), in ``WORKERS`` load processes.

Reported: messages/s (lines that reached all their 51 recipients, over the time from the
start to the last arrival), deliveries/s, latency p50/p99 (arrival minus the stamp of the
sender's write), members that got every line of the others, members that got each
sender's lines in the order sent, members that saw one order (the first listener's, less
their own lines), and server CPU microseconds per delivery (as in
:mod:`benchmarks.irc_fanout`). Run by ``python -m benchmarks.irc_fanout --cases everyone``;
this module's own command line is its load process (``--worker``).
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.irc_systems import (
    CHANNEL,
    CLOCK_TICK,
    SYSTEMS,
    Target,
    cpu,
    register_many,
    release,
    start_load,
    wait_for_members,
)

SENDERS = 50
LISTENERS = 2
LINES = 40
WORKERS = 2
REGISTER_TIMEOUT = 60.0  # seconds for one load process to register and join its members
RECEIVE_TIMEOUT = 60.0  # seconds from the start for every line to reach every member


def nick(member: int, senders: int) -> str:
    return f"s{member}" if member < senders else f"l{member - senders}"


def join_members(
    target: Target, members: int, senders: int, first: int, count: int
) -> list[socket.socket]:
    """Register and join members ``first`` .. ``first + count - 1``; return once each of
    their servers shows all ``members`` in the channel."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    ports = target.ports
    sockets: list[socket.socket] = []
    step = max(1, target.register_chunk)
    try:
        for chunk in range(first, first + count, step):
            ids = range(chunk, min(chunk + step, first + count))
            clients = [(ports[i % len(ports)], nick(i, senders)) for i in ids]
            sockets += register_many(clients, target.password, deadline - time.monotonic())
        for k in sorted({i % len(ports) for i in range(first, first + count)}):
            sock = sockets[next(j for j in range(count) if (first + j) % len(ports) == k)]
            wait_for_members(sock, members, max(1.0, deadline - time.monotonic()))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def worker(args: argparse.Namespace) -> None:
    """One load process: hold its members, print READY, wait for ``GO <wall-clock start>``
    on stdin, send its senders' lines at the start, receive until every member has every
    line of the others (or ``RECEIVE_TIMEOUT``), print DONE, write what it saw."""
    target = Target(args.ports, args.password, register_chunk=args.register_chunk)
    members, senders, lines = args.senders + args.listeners, args.senders, args.lines
    sockets = join_members(target, members, senders, args.first, args.count)
    print("READY", flush=True)
    go = sys.stdin.readline().split()
    if go[:1] != ["GO"]:
        return
    start = float(go[1])
    ids = range(args.first, args.first + args.count)
    seen: dict[int, list[int]] = {i: [] for i in ids}  # sender * lines + n, as received
    buffers = dict.fromkeys(ids, b"")
    expect = {i: lines * (senders - (i < senders)) for i in ids}
    selector = selectors.DefaultSelector()
    for i, sock in zip(ids, sockets, strict=True):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    time.sleep(max(0.0, start - time.time()))
    for i, sock in zip(ids, sockets, strict=True):
        if i < senders:  # all of a sender's lines in one write
            stamp = time.time()
            text = "".join(f"PRIVMSG {CHANNEL} :{i}.{n}@{stamp:.6f}\r\n" for n in range(lines))
            sock.sendall(text.encode())
    latencies: list[float] = []
    last, echoed = 0.0, 0
    waiting = {i for i in ids if expect[i]}
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            i, conn = key.data, key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(conn)  # disconnected: counted as incomplete
                waiting.discard(i)
                continue
            now = time.time()
            parts = (buffers[i] + data).split(b"\r\n")
            buffers[i] = parts.pop()
            for line in parts:
                if b" PRIVMSG " in line:
                    body, sent = line.rsplit(b":", 1)[1].split(b"@")
                    sender, n = map(int, body.split(b"."))
                    if sender == i:
                        echoed += 1
                        continue
                    seen[i].append(sender * lines + n)
                    latencies.append(now - float(sent))
                    last = now
                    if len(seen[i]) == expect[i]:
                        waiting.discard(i)
                elif line.startswith(b"PING "):
                    conn.sendall(b"PONG " + line[5:] + b"\r\n")
    print("DONE", flush=True)
    result = {"seen": {str(i): s for i, s in seen.items()}, "latencies": latencies,
              "last": last, "echoed": echoed}  # fmt: skip
    Path(args.worker).write_text(json.dumps(result))
    for sock in sockets:
        sock.close()


def run(target: Target, senders: int, lines: int) -> dict[str, Any]:
    """Start the load processes, give them one start time, merge and check what they saw."""
    members = senders + LISTENERS
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        commands, outs = [], []
        share = -(-members // WORKERS)
        for first in range(0, members, share):
            out = f"{tmp}/w{first}.json"
            outs.append(out)
            commands.append([sys.executable, "-m", "benchmarks.irc_everyone", "--worker", out,
                       "--ports", *map(str, target.ports), "--password", target.password,
                       "--register-chunk", str(target.register_chunk),
                       "--senders", str(senders), "--listeners", str(LISTENERS),
                       "--lines", str(lines), "--first", str(first),
                       "--count", str(min(share, members - first))])  # fmt: skip
        procs = start_load(stack, commands, "register and join its members")
        start = release(procs)
        time.sleep(max(0.0, start - time.time()))
        cpu_from = cpu(target.pids)
        for proc in procs:  # "DONE", or "" if the worker is gone
            assert proc.stdout is not None
            proc.stdout.readline()
        cpu_to = cpu(target.pids)
        for proc in procs:
            proc.wait(timeout=30)
        reports = [json.loads(Path(out).read_text()) for out in outs]
    seen = {int(i): s for r in reports for i, s in r["seen"].items()}
    latencies = sorted(x for r in reports for x in r["latencies"])
    if not latencies:
        raise RuntimeError("no line reached any member")
    elapsed = max(max(r["last"] for r in reports) - start, 1e-6)
    used = sum(cpu_to) - sum(cpu_from)
    checked = check(seen, senders, lines)
    return {
        "messages_per_second": checked.pop("lines_everywhere") / elapsed,
        "deliveries_per_second": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "deliveries": len(latencies),
        "echoed": sum(r["echoed"] for r in reports),
        **checked,
        "cpu_us_per_delivery": used / len(latencies) * 1e6,
        "server_cpu_s": [round(b - a, 3) for a, b in zip(cpu_from, cpu_to, strict=True)],
        "cpu_ticks": round(used * CLOCK_TICK),
    }


def check(seen: dict[int, list[int]], senders: int, lines: int) -> dict[str, Any]:
    """Completeness, per-sender order and one order, from what each member received."""
    members = len(seen)
    reference = seen[senders]  # the first pure listener: it should see every line
    complete = in_order = same = 0
    reached = [0] * (senders * lines)
    for member, got in seen.items():
        others = senders - (member < senders)
        complete += len(got) == others * lines and len(set(got)) == len(got)
        last: dict[int, int] = {}
        ordered = True
        for x in got:
            reached[x] += 1
            sender, n = divmod(x, lines)
            ordered = ordered and last.get(sender, -1) < n
            last[sender] = n
        in_order += ordered
        same += got == [x for x in reference if x // lines != member]
    return {
        "lines_everywhere": sum(n >= members - 1 for n in reached),
        "complete": f"{complete}/{members}",
        "per_sender_order": f"{in_order}/{members}",
        "one_order": f"{same}/{members}",
    }


def measure(name: str, senders: int = SENDERS, lines: int = LINES) -> dict[str, Any]:
    with SYSTEMS[name]() as target:
        if target.max_receivers and senders + LISTENERS > target.max_receivers:
            return {"error": f"skipped: {target.limit_reason}"}
        return run(target, senders, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--ports", type=int, nargs="+", required=True)
    parser.add_argument("--password", default="")
    parser.add_argument("--register-chunk", type=int, default=1)
    parser.add_argument("--senders", type=int, default=SENDERS)
    parser.add_argument("--listeners", type=int, default=LISTENERS)
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    worker(parser.parse_args())


if __name__ == "__main__":
    main()
