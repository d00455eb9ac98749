"""The durable half of a Raft server: hard state, log entries and the latest snapshot.

Raft's safety rests on what a server has promised surviving a crash: a vote (``voted_for``)
and every entry it acknowledged (paper Figure 2, "persistent state on all servers"). The
core (:mod:`twistedchat.raft.core`) hands us exactly what to persist in each ``Ready``;
the replica's writer (:mod:`twistedchat.raft.writer`) calls :meth:`RaftStorage.write`
with one or more of them, and only then sends what waited for them, so ``write`` must be
durable when it returns.

We keep it all in one SQLite database in WAL mode with ``synchronous=FULL`` (see
``docs/decisions/0003-raft-storage.md``): one ``write`` is one transaction and one fsync of
the WAL, so truncating a conflicting suffix and appending its replacement happen together
or not at all, torn writes are SQLite's problem rather than ours, and there is no recovery
code of our own to get wrong. The log's bounds are kept in memory, so an append is the
INSERTs and the COMMIT, nothing more.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from twistedchat.raft.core import HardState
from twistedchat.raft.log import SnapshotMeta
from twistedchat.raft.messages import Configuration, Entry, EntryKind

#: Bumped whenever the schema changes; older stores are migrated, newer ones refused.
#: 2: ``entries.time``, the log's clock (entries of version 1 read as time 0).
SCHEMA_VERSION = 2

DB_NAME = "raft.sqlite3"

_SCHEMA = """
CREATE TABLE entries (
    idx INTEGER PRIMARY KEY,
    term INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    data BLOB NOT NULL,
    time INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    term INTEGER NOT NULL,
    voted_for TEXT,
    commit_index INTEGER NOT NULL
);
CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    idx INTEGER NOT NULL,
    term INTEGER NOT NULL,
    config BLOB NOT NULL,
    data BLOB NOT NULL
);
"""


class StorageError(Exception):
    """The store cannot be opened, read or written safely; the server must not go on."""


@dataclass(frozen=True, slots=True)
class LogWrite:
    """What one ``Ready`` asks to persist: a leader's snapshot (replacing the whole log),
    then entries (replacing every stored entry from the first one's index), then the hard
    state (None: unchanged)."""

    hard_state: HardState | None
    entries: Sequence[Entry] = ()
    snapshot: tuple[SnapshotMeta, bytes] | None = None


@dataclass(frozen=True, slots=True)
class Compaction:
    """Our own snapshot at ``meta.index``: it replaces the entries it covers."""

    meta: SnapshotMeta
    data: bytes


StorageWrite = LogWrite | Compaction


class RaftStorage:
    """One server's durable Raft state in ``<path>/raft.sqlite3``.

    Every mutating method is one SQLite transaction, committed (and fsync'd) before it
    returns. The database is opened in exclusive locking mode, so a second server pointed
    at the same directory fails to open it instead of interleaving two logs.
    """

    def __init__(self, path: str, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        with self._errors("read"):
            self._snap_index, self._last = self._read_bounds()

    @classmethod
    def open(cls, path: str) -> RaftStorage:
        """Open (creating if needed) the store in directory ``path``."""
        directory = Path(path)
        try:
            created = not directory.exists()
            directory.mkdir(parents=True, exist_ok=True)
            if created:
                _fsync_dir(directory.parent)
            db_file = directory / DB_NAME
            new_file = not db_file.exists()
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one per call.
            # timeout=0: a store locked by another process is an error, not a wait.
            # check_same_thread=False: the writer thread writes after this one loaded;
            # never both at once (the replica loads before the writer starts).
            db = sqlite3.connect(db_file, isolation_level=None, timeout=0, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open raft storage at {path}: {exc}") from exc
        try:
            _configure(db)
            _migrate(db, path)
            if new_file:
                _fsync_dir(directory)  # make the new database file's name durable too
        except StorageError:
            db.close()
            raise
        except (OSError, sqlite3.Error) as exc:
            db.close()
            raise StorageError(f"cannot open raft storage at {path}: {exc}") from exc
        try:
            return cls(path, db)
        except StorageError:
            db.close()
            raise

    def load(self) -> tuple[HardState, SnapshotMeta | None, bytes | None, list[Entry]]:
        """Everything a restarting server needs: hard state, snapshot, and the entries after it."""
        with self._errors("read"):
            row = self._db.execute(
                "SELECT term, voted_for, commit_index FROM hard_state WHERE id = 0"
            ).fetchone()
            hard_state = HardState(0, None, 0) if row is None else HardState(*row)
            snap = self._db.execute(
                "SELECT idx, term, config, data FROM snapshot WHERE id = 0"
            ).fetchone()
            meta: SnapshotMeta | None = None
            data: bytes | None = None
            if snap is not None:
                meta = SnapshotMeta(snap[0], snap[1], Configuration.decode(snap[2]))
                data = bytes(snap[3])
            after = meta.index if meta is not None else 0
            entries = [
                Entry(term, idx, EntryKind(kind), bytes(blob), time)
                for idx, term, kind, blob, time in self._db.execute(
                    "SELECT idx, term, kind, data, time FROM entries WHERE idx > ? ORDER BY idx",
                    (after,),
                )
            ]
        # save() never leaves a gap, so one here means the file was damaged or edited.
        for offset, entry in enumerate(entries):
            if entry.index != after + 1 + offset:
                raise StorageError(
                    f"raft storage at {self.path} is corrupt: log has a gap before index "
                    f"{entry.index}"
                )
        return hard_state, meta, data, entries

    def write(self, writes: Sequence[StorageWrite]) -> None:
        """Durably apply ``writes``, in order, in one transaction (one fsync for all).

        Entries that are not contiguous, that would leave a gap after the stored log, or
        that reach into the snapshot are refused, as is compacting behind the snapshot:
        any of them would silently corrupt the log. On any failure nothing is written.
        """
        if not writes:
            return
        snap_index, last = self._snap_index, self._last
        with self._transaction("write"):
            for w in writes:
                if isinstance(w, Compaction):
                    snap_index = self._compact(w, snap_index)
                    last = max(last, snap_index)
                    continue
                if w.snapshot is not None:
                    meta, data = w.snapshot
                    self._db.execute("DELETE FROM entries")
                    self._put_snapshot(meta, data)
                    snap_index = last = meta.index
                if w.entries:
                    last = self._put_entries(w.entries, snap_index, last)
                if w.hard_state is not None:
                    hs = w.hard_state
                    self._db.execute(
                        "INSERT OR REPLACE INTO hard_state (id, term, voted_for, commit_index) "
                        "VALUES (0, ?, ?, ?)",
                        (hs.term, hs.voted_for, hs.commit),
                    )
        self._snap_index, self._last = snap_index, last

    def save(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Durably store ``hard_state`` (None: unchanged) and ``entries`` (see :meth:`write`)."""
        if hard_state is not None or entries:
            self.write([LogWrite(hard_state, entries)])

    def save_snapshot(self, meta: SnapshotMeta, data: bytes) -> None:
        """Install a leader's snapshot: it replaces the stored snapshot and the whole log."""
        self.write([LogWrite(None, (), (meta, data))])

    def compact(self, meta: SnapshotMeta, data: bytes) -> None:
        """Store our own snapshot and drop the entries it covers, keeping later ones."""
        self.write([Compaction(meta, data)])

    def close(self) -> None:
        """Close the database (SQLite checkpoints the WAL and releases the lock)."""
        self._db.close()

    # -- internals -------------------------------------------------------------------------

    def _read_bounds(self) -> tuple[int, int]:
        """(snapshot index, last stored index) as stored; both 0 for an empty store."""
        row = self._db.execute("SELECT idx FROM snapshot WHERE id = 0").fetchone()
        snap_index = 0 if row is None else int(row[0])
        (last,) = self._db.execute("SELECT max(idx) FROM entries").fetchone()
        return snap_index, max(snap_index, last or 0)

    def _put_entries(self, entries: Sequence[Entry], snap_index: int, last: int) -> int:
        """Store contiguous ``entries`` over any stored suffix; the new last index."""
        first = entries[0].index
        for offset, entry in enumerate(entries):
            if entry.index != first + offset:
                raise StorageError(
                    f"entries to save are not contiguous: index {entry.index} after "
                    f"{first + offset - 1}"
                )
        if first <= snap_index or first > last + 1:
            raise StorageError(
                f"cannot save entries from index {first}: the stored log holds "
                f"{snap_index + 1}..{last}"
            )
        if first <= last:  # a follower overwriting a conflicting suffix (Figure 2 step 3)
            self._db.execute("DELETE FROM entries WHERE idx >= ?", (first,))
        self._db.executemany(
            "INSERT INTO entries (idx, term, kind, data, time) VALUES (?, ?, ?, ?, ?)",
            [(e.index, e.term, int(e.kind), e.data, e.time) for e in entries],
        )
        return entries[-1].index

    def _compact(self, c: Compaction, snap_index: int) -> int:
        if c.meta.index < snap_index:
            raise StorageError(
                f"cannot compact to index {c.meta.index}: already compacted to {snap_index}"
            )
        self._db.execute("DELETE FROM entries WHERE idx <= ?", (c.meta.index,))
        self._put_snapshot(c.meta, c.data)
        return c.meta.index

    def _put_snapshot(self, meta: SnapshotMeta, data: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO snapshot (id, idx, term, config, data) VALUES (0, ?, ?, ?, ?)",
            (meta.index, meta.term, meta.config.encode(), data),
        )

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn SQLite and decoding failures into StorageError naming the store."""
        try:
            yield
        except StorageError:
            raise
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"cannot {what} raft storage at {self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """BEGIN ... COMMIT; the COMMIT is the fsync. Any failure rolls everything back."""
        with self._errors(what):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise


def _configure(db: sqlite3.Connection) -> None:
    """Exclusive lock, WAL, and an fsync on every commit.

    The locking mode must be set before the first WAL access so SQLite never needs the
    shared-memory index; the first read then takes the lock and keeps it until close.
    """
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
    if str(mode).lower() != "wal":
        raise StorageError(f"cannot switch to WAL mode (got {mode!r})")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA fullfsync = ON")  # macOS: F_FULLFSYNC; no-op elsewhere


def _migrate(db: sqlite3.Connection, path: str) -> None:
    """Create the schema in a new store, migrate an older one; refuse a newer one."""
    db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock (or fails if someone holds it)
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"raft storage at {path} has schema version {version}, newer than the "
                f"supported {SCHEMA_VERSION}: upgrade twistedchat"
            )
        if version == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        elif version == 1:
            db.execute("ALTER TABLE entries ADD COLUMN time INTEGER NOT NULL DEFAULT 0")
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _fsync_dir(directory: Path) -> None:
    """Make a newly created name in ``directory`` survive a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
