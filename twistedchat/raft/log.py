"""One server's Raft log in memory: Figure 2's ``log[]`` and ``commitIndex`` after a snapshot.

The log starts after the latest snapshot (paper section 7): ``snapshot.index`` and
``snapshot.term`` stand for the compacted prefix (Figure 13's lastIncludedIndex/Term), and
entries follow it without gaps. Besides the entries it tracks two things the core needs:

- which suffix has not yet been handed to durable storage ("unstable" entries, in etcd's
  words), so the caller can persist exactly that, and how far the log is known to be
  durable (writes complete in the background: an entry handed out is not yet on disk);
- the latest configuration in the log and its index (dissertation 4.1: a server uses the
  latest configuration in its log, whether or not it is committed, so a truncated CONFIG
  entry takes its configuration with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twistedchat.raft.messages import Configuration, Entry, EntryKind


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """What a snapshot replaces: the log up to ``index`` (of ``term``) and its configuration."""

    index: int
    term: int
    config: Configuration


#: The "snapshot" of a log that was never compacted: index 0 has term 0 by convention.
EMPTY_SNAPSHOT = SnapshotMeta(0, 0, Configuration(frozenset()))


class RaftLog:
    """Entries ``snapshot.index + 1 .. last_index``, the commit index, and the unstable suffix."""

    def __init__(self, snapshot: SnapshotMeta, entries: Sequence[Entry], commit: int) -> None:
        self.snapshot = snapshot
        self._entries = [e for e in entries if e.index > snapshot.index]
        for offset, entry in enumerate(self._entries):
            if entry.index != snapshot.index + 1 + offset:
                raise ValueError(f"log has a gap before index {entry.index}")
        self.commit = max(commit, snapshot.index)
        if self.commit > self.last_index:
            raise ValueError(f"commit index {commit} is beyond the last entry {self.last_index}")
        self._stable = self.last_index  # what we were given came from storage
        self._durable = self.last_index
        self.config_index, self.config = self._config_at(self.last_index)

    # -- reading ---------------------------------------------------------------------------

    @property
    def first_index(self) -> int:
        return self.snapshot.index + 1

    @property
    def last_index(self) -> int:
        return self.snapshot.index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snapshot.term

    @property
    def last_time(self) -> int:
        """The log's clock at its last entry (0 when no entry is left to say)."""
        return self._entries[-1].time if self._entries else 0

    def term(self, index: int) -> int | None:
        """The term of the entry at ``index``, or None if it is compacted or not there yet."""
        if index == self.snapshot.index:
            return self.snapshot.term
        if index < self.snapshot.index or index > self.last_index:
            return None
        return self._entries[index - self.first_index].term

    def matches(self, index: int, term: int) -> bool:
        """Figure 2, AppendEntries step 2: do we hold an entry at ``index`` with ``term``?"""
        return self.term(index) == term

    def entry(self, index: int) -> Entry:
        return self._entries[index - self.first_index]

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries ``lo .. hi`` inclusive (``lo`` must not be compacted)."""
        assert lo >= self.first_index, (lo, self.first_index)
        return self._entries[lo - self.first_index : hi - self.first_index + 1]

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Section 5.4.1: is a log ending at (last_index, last_term) at least as new as ours?"""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    def conflict_hint(self, index: int) -> tuple[int, int]:
        """Why ``index`` does not match, as (conflict_index, conflict_term) for the leader.

        Either our log ends earlier (our last index + 1, term 0), or we hold another term
        there: then the first index of that term, so the leader can skip the whole
        conflicting term in one round trip (paper section 5.3, last paragraphs).
        """
        term = self.term(index)
        if term is None:
            return self.last_index + 1, 0
        while index - 1 > self.snapshot.index and self.term(index - 1) == term:
            index -= 1
        return index, term

    def last_index_of_term(self, term: int, upto: int) -> int | None:
        """The last index at or below ``upto`` holding ``term``, if we have one (section 5.3)."""
        index = min(upto, self.last_index)
        while index > self.snapshot.index and (self.term(index) or 0) > term:
            index -= 1
        return index if self.term(index) == term else None

    # -- writing ---------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> None:
        """Add entries right after the last one (a leader never overwrites: Figure 3)."""
        for offset, entry in enumerate(entries):
            assert entry.index == self.last_index + 1 + offset, (entry, self.last_index)
        self._entries.extend(entries)
        for entry in entries:
            if entry.kind == EntryKind.CONFIG:
                self.config_index, self.config = entry.index, Configuration.decode(entry.data)

    def merge(self, entries: Sequence[Entry]) -> None:
        """Figure 2, AppendEntries steps 3-4, for entries that follow a matching prefix.

        Only a real conflict truncates: entries we already hold are skipped, so a stale or
        duplicated AppendEntries can never cut off entries that arrived after it.
        """
        for offset, entry in enumerate(entries):
            existing = self.term(entry.index)
            if existing == entry.term:
                continue
            if existing is not None:
                self._truncate_from(entry.index)
            self.append(entries[offset:])
            return

    def _truncate_from(self, index: int) -> None:
        assert index > self.commit, f"truncating committed entry {index} (commit {self.commit})"
        del self._entries[index - self.first_index :]
        self._stable = min(self._stable, index - 1)
        self._durable = min(self._durable, index - 1)
        if self.config_index >= index:
            self.config_index, self.config = self._config_at(index - 1)

    def commit_to(self, index: int) -> bool:
        """Raise the commit index (it never decreases); True if it moved."""
        if index <= self.commit:
            return False
        assert index <= self.last_index, (index, self.last_index)
        self.commit = index
        return True

    # -- durability ------------------------------------------------------------------------

    def unstable(self) -> list[Entry]:
        """Entries not yet handed to storage (the first may overwrite a stored suffix)."""
        return self._entries[self._stable - self.snapshot.index :]

    def has_unstable(self) -> bool:
        return self._stable < self.last_index

    def mark_stable(self) -> None:
        self._stable = self.last_index

    @property
    def durable_index(self) -> int:
        """The last index of the prefix that storage has made durable."""
        return self._durable

    def mark_durable(self, index: int, term: int) -> None:
        """Storage made entries up to ``index`` (of ``term``) durable, and everything before.

        If the entry at ``index`` has been replaced since it was handed out (a conflicting
        suffix truncated), the write was of entries we no longer hold: nothing changes.
        Matching (index, term) means the same prefix (Log Matching), so it is ours.
        """
        if index > self._durable and self.term(index) == term:
            self._durable = index

    # -- snapshots -------------------------------------------------------------------------

    def compact(self, index: int) -> SnapshotMeta:
        """Drop entries up to ``index`` (committed and applied) behind a snapshot (section 7)."""
        assert self.snapshot.index < index <= min(self.commit, self._stable), index
        term = self.term(index)
        assert term is not None
        config = self._config_at(index)[1]
        del self._entries[: index - self.snapshot.index]
        self.snapshot = SnapshotMeta(index, term, config)
        return self.snapshot

    def restore(self, snapshot: SnapshotMeta) -> None:
        """Figure 13 step 7: discard the whole log in favour of a leader's snapshot."""
        self.snapshot = snapshot
        self._entries = []
        # The snapshot is committed state, so acknowledging it before it is durable is
        # harmless: a crash meanwhile only makes the leader fall back to probing.
        self.commit = self._stable = self._durable = snapshot.index
        self.config_index, self.config = snapshot.index, snapshot.config

    def config_before_latest(self) -> Configuration:
        """The configuration the latest one replaced (the snapshot's, if none is left)."""
        return self._config_at(self.config_index - 1)[1]

    def _config_at(self, index: int) -> tuple[int, Configuration]:
        """The latest configuration at or below ``index``, with the index that set it."""
        for i in range(index, self.snapshot.index, -1):
            entry = self.entry(i)
            if entry.kind == EntryKind.CONFIG:
                return i, Configuration.decode(entry.data)
        return self.snapshot.index, self.snapshot.config
