"""Raft commit throughput and latency: twistedchat against PySyncObj, same machine, same run.

For 1, 3 and 5 nodes on loopback each system commits 100-byte entries proposed by many
concurrent proposers on the leader, with every node in its own process and its log on disk.
The headline is ``--concurrency`` (256) proposers for ``--duration`` seconds; a sweep then
measures ``--sweep`` (1 and 16) proposers for ``--sweep-duration`` seconds each, so the
latency of a lightly loaded cluster shows beside the throughput of a busy one. Prints
Markdown tables with the ratios and saves the results for :mod:`benchmarks.report`
(``benchmarks/results/raft_commit.json``), which writes them into ``docs/BENCHMARKS.md``.

    python -m benchmarks.raft_commit [--nodes 1 3 5] [--sweep 1 16 | --sweep 0] [--no-save]

Run with ``make bench`` (installs PySyncObj, a benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import plot, results
from benchmarks.raft_node import ENTRY_BYTES, WARMUP_SECONDS

SYSTEMS = ("twistedchat", "pysyncobj")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_one(system: str, nodes: int, duration: float, concurrency: int) -> dict[str, float]:
    """Start ``nodes`` processes, wait for the leader's result, stop them all by pid."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as tmp:
        ports = free_ports(nodes)
        out = Path(tmp) / "result.json"
        processes = []
        for index in range(nodes):
            data = Path(tmp) / f"node{index}"
            data.mkdir()
            command = [
                sys.executable, "-m", "benchmarks.raft_node", "--system", system,
                "--index", str(index), "--ports", *map(str, ports), "--data", str(data),
                "--out", str(out), "--duration", str(duration),
                "--concurrency", str(concurrency),
            ]  # fmt: skip
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        try:
            deadline = time.monotonic() + duration + 60
            while not out.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{system} with {nodes} nodes produced no result")
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"a {system} node exited early")
                time.sleep(0.1)
            result: dict[str, float] = json.loads(out.read_text())
            return result
        finally:
            for process in processes:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--concurrency", type=int, default=256, help="concurrent proposers")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--sweep", type=int, nargs="+", default=[1, 16],
                        help="more proposer counts, --sweep-duration s each (0: none)")  # fmt: skip
    parser.add_argument("--sweep-duration", type=float, default=2.0)
    parser.add_argument("--no-save", action="store_true", help="print only: no results, no plots")
    args = parser.parse_args()
    sweep = sorted({c for c in args.sweep if c > 0 and c != args.concurrency})
    levels = [*sweep, args.concurrency]
    print(f"Raft commits, 100-byte entries, {args.concurrency} concurrent proposers, "
          f"{args.duration:g} s per run; also {', '.join(map(str, sweep)) or 'nothing'} "
          f"proposers, {args.sweep_duration:g} s per run\n")  # fmt: skip
    print("| nodes | proposers | system | commits/s | p50 ms | p99 ms |")
    print("|---|---:|---|---:|---:|---:|")
    ratios = []
    by_level: dict[int, dict[str, dict[str, dict[str, float]]]] = {}
    for nodes in args.nodes:
        by_level[nodes] = {}
        for level in levels:
            duration = args.duration if level == args.concurrency else args.sweep_duration
            measured = {s: run_one(s, nodes, duration, level) for s in SYSTEMS}
            for system, r in measured.items():
                print(f"| {nodes} | {level} | {system} | {r['commits_per_second']:.0f} | "
                      f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |", flush=True)  # fmt: skip
            by_level[nodes][str(level)] = measured
        headline = by_level[nodes][str(args.concurrency)]
        ratios.append((nodes, headline["twistedchat"], headline["pysyncobj"]))
    print("\n| nodes | proposers | throughput ratio (twistedchat / PySyncObj) | p99 ratio |")
    print("|---|---:|---:|---:|")
    for nodes in args.nodes:
        for level in levels:
            measured = by_level[nodes][str(level)]
            ours, base = measured["twistedchat"], measured["pysyncobj"]
            throughput = ours["commits_per_second"] / max(base["commits_per_second"], 1e-9)
            p99 = ours["p99_ms"] / max(base["p99_ms"], 1e-9)
            print(f"| {nodes} | {level} | {throughput:.2f}x | {p99:.2f}x |")
    if args.no_save:
        return
    plots = plot.raft_commit(ratios) + plot.raft_concurrency(by_level)
    parameters = {"duration_s": args.duration, "warmup_s": WARMUP_SECONDS,
                  "concurrency": args.concurrency, "nodes": args.nodes,
                  "entry_bytes": ENTRY_BYTES, "sweep": sweep,
                  "sweep_duration_s": args.sweep_duration}  # fmt: skip
    # rows: the headline (concurrency) as before, and every level under "by_concurrency"
    rows = [{"nodes": n, "twistedchat": ours, "pysyncobj": base,
             "by_concurrency": by_level[n]} for n, ours, base in ratios]  # fmt: skip
    results.save("raft_commit", parameters, rows, plots=plots)


if __name__ == "__main__":
    main()
