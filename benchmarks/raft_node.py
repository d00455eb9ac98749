"""One node of the Raft commit benchmark, for either twistedchat or the PySyncObj baseline.

Started by :mod:`benchmarks.raft_commit`, one process per node (as in production, so the
nodes do not share a GIL). Whichever node becomes leader drives the load: ``concurrency``
proposers, each proposing a 100-byte entry and proposing again as soon as it is applied.
The leader writes throughput and latency percentiles as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

ENTRY_BYTES = 100
WARMUP_SECONDS = 1.0


class LoadRecorder:
    """Counts commits and their latencies inside the measuring window."""

    def __init__(self, duration: float, out: Path) -> None:
        self.duration = duration
        self.out = out
        self.started = time.monotonic()
        self.window_start = self.started + WARMUP_SECONDS
        self.window_end = self.window_start + duration
        self.latencies: list[float] = []
        self.sent: dict[bytes, float] = {}
        self.done = False
        self._counter = 0

    def next_payload(self) -> bytes:
        self._counter += 1
        key = self._counter.to_bytes(8, "big")
        self.sent[key] = time.monotonic()
        return key + os.urandom(ENTRY_BYTES - 8)

    def committed(self, payload: bytes) -> bool:
        """Record one commit; return whether the proposer should propose again."""
        sent = self.sent.pop(payload[:8], None)
        now = time.monotonic()
        if sent is not None and self.window_start <= sent and now <= self.window_end:
            self.latencies.append(now - sent)
        if now > self.window_end and not self.done:
            self.done = True
            self._write()
        return not self.done

    def _write(self) -> None:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0

        result = {
            "commits_per_second": len(ordered) / self.duration,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "commits": len(ordered),
        }
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.rename(self.out)


def run_twistedchat(args: argparse.Namespace) -> None:
    from twisted.internet import reactor, task

    from twistedchat.node.replica import RaftReplica
    from twistedchat.raft.core import RaftConfig
    from twistedchat.raft.storage import RaftStorage
    from twistedchat.raft.transport import PeerTransport
    from twistedchat.raft.writer import ThreadedWriter

    ids = [f"127.0.0.1:{port}" for port in args.ports]
    me = ids[args.index]
    storage = RaftStorage.open(str(Path(args.data) / "raft"))
    transport = PeerTransport(
        me, "bench", f"tcp:{args.ports[args.index]}:interface=127.0.0.1", reactor=reactor
    )
    recorder: LoadRecorder | None = None

    def applied(index: int, data: bytes, time: int) -> None:
        if recorder is not None and recorder.committed(data):
            replica.propose([recorder.next_payload()])

    replica = RaftReplica(
        me,
        storage,
        transport,
        reactor,
        config=RaftConfig(election_ticks=10, heartbeat_ticks=2),
        tick_seconds=0.04,
        apply_command=applied,
        take_snapshot=lambda: b"",
        restore_snapshot=lambda index, data: None,
        snapshot_every=10**9,
        rng=random.Random(args.index),
        writer=ThreadedWriter(
            storage,
            reactor,  # type: ignore[arg-type]
            lambda reason: replica.storage_failed(reason),
        ),
    )

    def maybe_start() -> None:
        nonlocal recorder
        if recorder is None and replica.is_leader():
            recorder = LoadRecorder(args.duration, Path(args.out))
            replica.propose([recorder.next_payload() for _ in range(args.concurrency)])

    def start() -> None:
        replica.start()
        replica.found_cluster(frozenset(ids))
        task.LoopingCall(maybe_start).start(0.05)

    transport.start().addCallback(lambda _: start())
    reactor.run()


def run_pysyncobj(args: argparse.Namespace) -> None:
    from pysyncobj import SyncObj, SyncObjConf, replicated

    class AppendOnly(SyncObj):
        def __init__(self, me: str, partners: list[str], conf: SyncObjConf) -> None:
            super().__init__(me, partners, conf)
            self.count = 0

        @replicated
        def append(self, data: bytes) -> int:
            self.count += 1
            return self.count

    addresses = [f"127.0.0.1:{port}" for port in args.ports]
    me = addresses[args.index]
    conf = SyncObjConf(
        journalFile=str(Path(args.data) / "journal"),
        fullDumpFile=str(Path(args.data) / "dump"),
        appendEntriesUseBatch=True,
        commandsQueueSize=1_000_000,
        raftMinTimeout=0.4,
        raftMaxTimeout=0.8,
        appendEntriesPeriod=0.08,
        logCompactionMinEntries=10**9,
        # The default 50 ms tick caps PySyncObj at one batch of proposals per tick (1 node:
        # 1.2k commits/s with 64 proposers); a 5 ms tick lifts that (1 node: 29k/s), so the
        # baseline is not handicapped by a default meant to save CPU.
        autoTickPeriod=0.005,
    )
    node = AppendOnly(me, [a for a in addresses if a != me], conf)
    while not node._isLeader():
        time.sleep(0.05)
    recorder = LoadRecorder(args.duration, Path(args.out))
    lock = threading.Lock()

    def propose() -> None:
        with lock:
            payload = recorder.next_payload()
        node.append(payload, callback=lambda result, error: on_commit(payload, error))

    def on_commit(payload: bytes, error: object) -> None:
        with lock:
            again = recorder.committed(payload)
        if again:
            propose()

    for _ in range(args.concurrency):
        propose()
    while True:
        time.sleep(1)


RUNNERS: dict[str, Callable[[argparse.Namespace], None]] = {
    "twistedchat": run_twistedchat,
    "pysyncobj": run_pysyncobj,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", choices=sorted(RUNNERS), required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--ports", type=int, nargs="+", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    RUNNERS[args.system](args)


if __name__ == "__main__":
    main()
