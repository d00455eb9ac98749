"""Tests of the durable Raft store: semantics, refusals, crash safety, and a model check."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from twistedchat.raft.core import HardState
from twistedchat.raft.log import SnapshotMeta
from twistedchat.raft.messages import Configuration, Entry, EntryKind
from twistedchat.raft.storage import DB_NAME, RaftStorage, StorageError

CONFIG = Configuration(frozenset({"a:1", "b:2"}), frozenset({"c:3"}))
REPO = Path(__file__).resolve().parents[2]


def cmd(index: int, term: int = 1, data: bytes | None = None) -> Entry:
    return Entry(term, index, EntryKind.COMMAND, f"cmd-{index}".encode() if data is None else data)


def span(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [cmd(i, term) for i in range(lo, hi + 1)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RaftStorage]:
    s = RaftStorage.open(str(tmp_path / "raft"))
    yield s
    s.close()


def reopen(s: RaftStorage) -> RaftStorage:
    s.close()
    return RaftStorage.open(s.path)


# -- semantics --------------------------------------------------------------------------


def test_fresh_store_is_empty_and_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "raft"
    s = RaftStorage.open(str(path))
    try:
        assert (path / DB_NAME).is_file()
        assert s.load() == (HardState(0, None, 0), None, None, [])
    finally:
        s.close()


def test_round_trip_survives_reopen(store: RaftStorage) -> None:
    entries = [
        Entry(0, 1, EntryKind.CONFIG, CONFIG.encode()),
        Entry(1, 2, EntryKind.NOOP),
        Entry(1, 3, EntryKind.COMMAND, bytes(range(256))),  # every byte value, NULs included
    ]
    store.save(HardState(1, "a:1", 2), entries)
    store = reopen(store)
    hard, snap, data, loaded = store.load()
    assert hard == HardState(1, "a:1", 2)
    assert (snap, data) == (None, None)
    assert loaded == entries
    assert [type(e.kind) for e in loaded] == [EntryKind] * 3
    store.close()


def test_hard_state_none_keeps_previous_and_stored_values_are_copies(store: RaftStorage) -> None:
    hard = HardState(3, "b:2", 0)
    store.save(hard, [])
    hard.term = 99  # the caller's object is mutable; the store must not alias it
    store.save(None, span(1, 2))
    assert store.load()[0] == HardState(3, "b:2", 0)
    store.save(HardState(4, None, 2), [])
    assert store.load()[0] == HardState(4, None, 2)


def test_save_overwrites_the_suffix_from_the_first_new_index(store: RaftStorage) -> None:
    store.save(None, span(1, 5, term=1))
    store.save(None, span(3, 4, term=2))  # a new leader's shorter log wins from index 3 on
    assert store.load()[3] == span(1, 2, term=1) + span(3, 4, term=2)
    store.save(None, span(5, 6, term=2))  # plain append right after the last entry
    assert [e.index for e in store.load()[3]] == [1, 2, 3, 4, 5, 6]


def test_compact_keeps_later_entries(store: RaftStorage) -> None:
    store.save(HardState(2, None, 6), span(1, 8))
    meta = SnapshotMeta(6, 1, CONFIG)
    store.compact(meta, b"state@6")
    store = reopen(store)
    hard, snap, data, entries = store.load()
    assert (hard, snap, data) == (HardState(2, None, 6), meta, b"state@6")
    assert entries == span(7, 8)
    store.save(None, span(9, 9))  # appending continues after the kept entries
    assert store.load()[3] == span(7, 9)
    store.close()


def test_compact_of_everything_then_append(store: RaftStorage) -> None:
    store.save(None, span(1, 4))
    store.compact(SnapshotMeta(4, 1, CONFIG), b"s")
    assert store.load()[3] == []
    with pytest.raises(StorageError):
        store.save(None, span(4, 5))  # index 4 is inside the snapshot now
    store.save(None, span(5, 5))
    assert store.load()[3] == span(5, 5)


def test_compact_refuses_to_go_back(store: RaftStorage) -> None:
    store.save(None, span(1, 6))
    store.compact(SnapshotMeta(5, 1, CONFIG), b"new")
    with pytest.raises(StorageError, match="already compacted to 5"):
        store.compact(SnapshotMeta(3, 1, CONFIG), b"old")
    assert store.load()[1:] == (SnapshotMeta(5, 1, CONFIG), b"new", span(6, 6))


def test_save_snapshot_replaces_the_whole_log(store: RaftStorage) -> None:
    store.save(HardState(1, None, 2), span(1, 10))
    store.compact(SnapshotMeta(2, 1, CONFIG), b"old")
    meta = SnapshotMeta(5, 3, Configuration(frozenset({"x:9"})))
    store.save_snapshot(meta, b"leader's")
    # even entries after the snapshot index go: they may conflict with the leader's log
    assert store.load() == (HardState(1, None, 2), meta, b"leader's", [])
    store.save(None, span(6, 7, term=3))
    store = reopen(store)
    assert store.load()[1:] == (meta, b"leader's", span(6, 7, term=3))
    store.close()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (span(5, 5), "from index 5"),  # gap after the last stored entry (3)
        ([cmd(2), cmd(4)], "not contiguous"),
        ([cmd(4), cmd(3)], "not contiguous"),
        ([cmd(0)], "from index 0"),
    ],
)
def test_save_refuses_what_would_corrupt_the_log(
    store: RaftStorage, entries: list[Entry], message: str
) -> None:
    store.save(HardState(1, "a:1", 1), span(1, 3))
    with pytest.raises(StorageError, match=message):
        store.save(HardState(7, "b:2", 3), entries)
    # the whole call is refused: the hard state in it was not written either
    assert store.load() == (HardState(1, "a:1", 1), None, None, span(1, 3))


# -- opening ------------------------------------------------------------------------------


def test_uses_wal_with_full_sync(store: RaftStorage) -> None:
    store.save(None, span(1, 1))
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert (Path(store.path) / (DB_NAME + "-wal")).exists()


def test_newer_schema_is_refused_with_a_one_line_message(tmp_path: Path) -> None:
    RaftStorage.open(str(tmp_path)).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StorageError) as info:
        RaftStorage.open(str(tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message and "schema version 99" in message
    assert "\n" not in message


def test_entry_times_round_trip(store: RaftStorage) -> None:
    entries = [Entry(1, 1, EntryKind.NOOP, b"", 1_764_000_000_000), cmd(2)]
    store.save(None, entries)
    assert reopen(store).load()[3] == entries


def test_a_store_of_schema_1_is_migrated_and_its_entries_read_as_time_0(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript(
        """CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,
               kind INTEGER NOT NULL, data BLOB NOT NULL);
           CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 0), term INTEGER NOT NULL,
               voted_for TEXT, commit_index INTEGER NOT NULL);
           CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL,
               term INTEGER NOT NULL, config BLOB NOT NULL, data BLOB NOT NULL);
           INSERT INTO entries VALUES (1, 1, 1, x'6f6c64');
           PRAGMA user_version = 1;"""
    )
    db.close()
    store = RaftStorage.open(str(tmp_path))
    try:
        assert store.load()[3] == [Entry(1, 1, EntryKind.COMMAND, b"old", 0)]
        store.save(None, [Entry(1, 2, EntryKind.COMMAND, b"new", 5)])
        assert store.load()[3][-1].time == 5
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def test_corrupt_file_is_a_storage_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not a database at all\n" * 200)
    with pytest.raises(StorageError) as info:
        RaftStorage.open(str(tmp_path))
    assert str(tmp_path) in str(info.value)
    assert "not a database" in str(info.value)


def test_path_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "raft").write_text("oops")
    with pytest.raises(StorageError, match="cannot open raft storage"):
        RaftStorage.open(str(tmp_path / "raft"))


def test_a_second_opener_is_refused(store: RaftStorage) -> None:
    store.save(HardState(1, None, 0), span(1, 1))
    with pytest.raises(StorageError, match="locked"):
        RaftStorage.open(store.path)
    store = reopen(store)  # closing releases it
    assert store.load()[3] == span(1, 1)
    store.close()


def test_a_gap_on_disk_is_reported_as_corruption(tmp_path: Path) -> None:
    s = RaftStorage.open(str(tmp_path))
    s.save(None, span(1, 3))
    s.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("DELETE FROM entries WHERE idx = 2")
    db.commit()
    db.close()
    s = RaftStorage.open(str(tmp_path))
    with pytest.raises(StorageError, match="gap before index 3"):
        s.load()
    s.close()


# -- crash safety -------------------------------------------------------------------------

CHILD = """
import sys
from twistedchat.raft.core import HardState
from twistedchat.raft.log import SnapshotMeta
from twistedchat.raft.messages import Configuration, Entry, EntryKind
from twistedchat.raft.storage import RaftStorage

store = RaftStorage.open(sys.argv[1])
_, snap, _, entries = store.load()
last = entries[-1].index if entries else (snap.index if snap else 0)
print("start", last, flush=True)
for step in range(100_000):  # bounded: the test kills us long before
    batch = [
        Entry(1, i, EntryKind.COMMAND, b"%d;" % i * 40)
        for i in range(last + 1, last + 2 + step % 5)
    ]
    store.save(HardState(1, "me", batch[-1].index), batch)
    last = batch[-1].index
    if step % 25 == 24:
        store.compact(SnapshotMeta(last - 3, 1, Configuration(frozenset({"me"}))), b"s%d" % last)
    print(last, flush=True)
"""


def test_every_acknowledged_save_survives_sigkill(tmp_path: Path) -> None:
    """A child saves in a loop and prints each index once ``save`` returned; we SIGKILL it.

    After every kill, whatever was acknowledged must load back intact, and a restarted child
    must continue from there. (SIGKILL keeps the OS page cache, so this checks atomicity and
    the commit point, not power-loss durability, which rests on ``synchronous=FULL``.)
    """
    path = str(tmp_path / "raft")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    acknowledged = 0
    for kill_after in (7, 31, 64, 90):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, env=env, text=True
        )
        try:
            assert child.stdout is not None
            start = child.stdout.readline().split()
            assert start[0] == "start" and int(start[1]) >= acknowledged
            for _ in range(kill_after):
                line = child.stdout.readline()
                assert line, "child exited early"
                acknowledged = int(line)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL

        s = RaftStorage.open(path)
        try:
            hard, snap, data, entries = s.load()
        finally:
            s.close()
        base = 0 if snap is None else snap.index
        assert data == (None if snap is None else b"s%d" % (base + 3))
        assert hard.term == 1 and hard.voted_for == "me" and hard.commit >= acknowledged
        assert [e.index for e in entries] == list(range(base + 1, hard.commit + 1))
        assert entries[-1].index >= acknowledged
        assert all(e.data == b"%d;" % e.index * 40 for e in entries)


# -- model check --------------------------------------------------------------------------

payloads = st.binary(max_size=40)
hard_states = st.none() | st.builds(
    HardState,
    st.integers(0, 9),
    st.none() | st.sampled_from(["a:1", "b:2"]),
    st.integers(0, 30),
)
configs = st.builds(
    Configuration,
    st.frozensets(st.sampled_from(["a:1", "b:2", "c:3"])),
    st.frozensets(st.sampled_from(["d:4"])),
)


class StorageMachine(RuleBasedStateMachine):
    """Random saves, compactions, installs and reopens against an in-memory model."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="raft-storage-")
        self.store = RaftStorage.open(self.dir)
        self.hard = HardState(0, None, 0)
        self.snapshot: tuple[SnapshotMeta, bytes] | None = None
        self.log: list[Entry] = []  # entries after the snapshot

    def snap_index(self) -> int:
        return self.snapshot[0].index if self.snapshot else 0

    def last_index(self) -> int:
        return self.log[-1].index if self.log else self.snap_index()

    @rule(data=st.data(), hard=hard_states, count=st.integers(0, 4), term=st.integers(1, 5))
    def save(self, data: st.DataObject, hard: HardState | None, count: int, term: int) -> None:
        first = data.draw(st.integers(self.snap_index() + 1, self.last_index() + 1))
        entries = [
            Entry(term, i, data.draw(st.sampled_from(EntryKind)), data.draw(payloads))
            for i in range(first, first + count)
        ]
        self.store.save(hard, entries)
        if entries:
            self.log = [e for e in self.log if e.index < first] + entries
        if hard is not None:
            self.hard = HardState(hard.term, hard.voted_for, hard.commit)
            hard.commit += 1000  # must not leak into the store

    @rule(data=st.data())
    def save_invalid(self, data: st.DataObject) -> None:
        kinds = ["gap", "holes"] + (["inside"] if self.snap_index() > 0 else [])
        kind = data.draw(st.sampled_from(kinds))
        if kind == "gap":
            first = self.last_index() + data.draw(st.integers(2, 5))
            entries = [cmd(first)]
        elif kind == "holes":
            first = data.draw(st.integers(self.snap_index() + 1, self.last_index() + 1))
            entries = [cmd(first), cmd(first + 2)]
        else:
            entries = [cmd(data.draw(st.integers(1, self.snap_index())))]
        with pytest.raises(StorageError):
            self.store.save(HardState(77, "z", 77), entries)

    @precondition(lambda self: self.log)
    @rule(data=st.data(), config=configs, blob=payloads)
    def compact(self, data: st.DataObject, config: Configuration, blob: bytes) -> None:
        index = data.draw(st.integers(self.snap_index() + 1, self.last_index()))
        meta = SnapshotMeta(index, self.log[index - self.snap_index() - 1].term, config)
        self.store.compact(meta, blob)
        self.snapshot = (meta, blob)
        self.log = [e for e in self.log if e.index > index]

    @rule(index=st.integers(1, 40), term=st.integers(1, 9), config=configs, blob=payloads)
    def install_snapshot(self, index: int, term: int, config: Configuration, blob: bytes) -> None:
        meta = SnapshotMeta(index, term, config)
        self.store.save_snapshot(meta, blob)
        self.snapshot = (meta, blob)
        self.log = []

    @rule()
    def reopen(self) -> None:
        self.store = reopen(self.store)

    @invariant()
    def matches_model(self) -> None:
        hard, meta, blob, entries = self.store.load()
        assert hard == self.hard
        assert (meta, blob) == (self.snapshot or (None, None))
        assert entries == self.log

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TestStorageModel = StorageMachine.TestCase
TestStorageModel.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
