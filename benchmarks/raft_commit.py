"""Raft commit throughput and latency: twistedchat against PySyncObj, same machine, same run.

For 1, 3 and 5 nodes on loopback each system commits 100-byte entries proposed by many
concurrent proposers on the leader, with every node in its own process and its log on disk.
Prints a Markdown table with the ratios and saves the results for :mod:`benchmarks.report`
(``benchmarks/results/raft_commit.json``), which writes them into ``docs/BENCHMARKS.md``.

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
    args = parser.parse_args()
    print(f"Raft commits, 100-byte entries, {args.concurrency} concurrent proposers, "
          f"{args.duration:g} s per run\n")  # fmt: skip
    print("| nodes | system | commits/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    ratios = []
    for nodes in args.nodes:
        measured = {s: run_one(s, nodes, args.duration, args.concurrency) for s in SYSTEMS}
        for system, r in measured.items():
            print(f"| {nodes} | {system} | {r['commits_per_second']:.0f} | "
                  f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} |", flush=True)  # fmt: skip
        ours, base = measured["twistedchat"], measured["pysyncobj"]
        ratios.append((nodes, ours, base))
    print("\n| nodes | throughput ratio (twistedchat / PySyncObj) | p99 ratio |")
    print("|---|---:|---:|")
    for nodes, ours, base in ratios:
        throughput = ours["commits_per_second"] / max(base["commits_per_second"], 1e-9)
        p99 = ours["p99_ms"] / max(base["p99_ms"], 1e-9)
        print(f"| {nodes} | {throughput:.2f}x | {p99:.2f}x |")
    plots = plot.raft_commit(ratios)
    parameters = {"duration_s": args.duration, "warmup_s": WARMUP_SECONDS,
                  "concurrency": args.concurrency, "nodes": args.nodes,
                  "entry_bytes": ENTRY_BYTES}  # fmt: skip
    rows = [{"nodes": n, "twistedchat": ours, "pysyncobj": base} for n, ours, base in ratios]
    results.save("raft_commit", parameters, rows, plots=plots)


if __name__ == "__main__":
    main()
