"""Raft log append throughput: RaftStorage (SQLite WAL, synchronous=FULL) against a plain file.

Both stores make every batch durable before the next one starts, as a Raft server must
before it answers: RaftStorage with one ``save`` (one transaction, one WAL fsync) and the
baseline by appending length+CRC32-framed records to one file and calling ``os.fsync``.
The baseline is the least a hand-written log could do per batch (no index, no truncation,
no recovery scan), so the ratio is the price of SQLite's transactions.
``docs/decisions/0003-raft-storage.md`` records a run; the results are also saved for
:mod:`benchmarks.report` (``benchmarks/results/storage_append.json``).

Run with ``python -m benchmarks.storage_append`` (about 10-60 s, depending on the disk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import results
from twistedchat.raft.messages import Entry, EntryKind
from twistedchat.raft.storage import RaftStorage

PAYLOAD = 200
HEADER = struct.Struct("<II")  # record length, CRC32 of the record
RECORD = struct.Struct("<QQB")  # term, index, kind; the payload follows


def make_batches(count: int, size: int) -> list[list[Entry]]:
    payload = bytes(range(256)) * (PAYLOAD // 256) + bytes(range(PAYLOAD % 256))
    return [
        [Entry(1, b * size + i + 1, EntryKind.COMMAND, payload) for i in range(size)]
        for b in range(count)
    ]


def run_raft_storage(directory: Path, batches: Sequence[Sequence[Entry]]) -> float:
    store = RaftStorage.open(str(directory))
    try:
        start = time.perf_counter()
        for batch in batches:
            store.save(None, batch)
        return time.perf_counter() - start
    finally:
        store.close()


def run_framed_file(directory: Path, batches: Sequence[Sequence[Entry]]) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for batch in batches:
            chunks = []
            for e in batch:
                record = RECORD.pack(e.term, e.index, e.kind) + e.data
                chunks.append(HEADER.pack(len(record), zlib.crc32(record)))
                chunks.append(record)
            os.write(fd, b"".join(chunks))
            os.fsync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


STORES: dict[str, Callable[[Path, Sequence[Sequence[Entry]]], float]] = {
    "RaftStorage": run_raft_storage,
    "framed file": run_framed_file,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", help="where to write (default: a temporary directory)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the batch counts")
    parser.add_argument("--rounds", type=int, default=5, help="runs per store; median reported")
    args = parser.parse_args(argv)
    workloads = [(max(1, int(2000 * args.scale)), 1), (max(1, int(200 * args.scale)), 100)]

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-storage-", dir=args.dir) as tmp:
        print(f"{PAYLOAD}-byte entries, fsync per batch, median of {args.rounds} runs, in {tmp}")
        print(f"| {'batches x size':<15} | {'store':<12} | {'seconds':>8} | {'entries/s':>10} |")
        print(f"|{'-' * 17}|{'-' * 14}|{'-' * 10}|{'-' * 12}|")
        for count, size in workloads:
            batches = make_batches(count, size)
            times: dict[str, list[float]] = {name: [] for name in STORES}
            for r in range(args.rounds):  # alternate the stores so drift hits both alike
                for name, run in STORES.items():
                    where = Path(tmp) / f"{name}-{count}x{size}-{r}".replace(" ", "-")
                    times[name].append(run(where, batches))
            rates = {}
            for name in STORES:
                seconds = statistics.median(times[name])
                rates[name] = count * size / seconds
                print(
                    f"| {f'{count} x {size}':<15} | {name:<12} | {seconds:>8.2f} "
                    f"| {rates[name]:>10,.0f} |"
                )
            ratio = rates["RaftStorage"] / rates["framed file"]
            print(f"  {count} x {size}: RaftStorage / framed file = {ratio:.2f}")
            rows.append({"batches": count, "entries": size, "entries_per_second": rates})
    parameters = {"entry_bytes": PAYLOAD, "scale": args.scale, "rounds": args.rounds,
                  "workloads": workloads}  # fmt: skip
    results.save("storage_append", parameters, rows)


if __name__ == "__main__":
    main()
