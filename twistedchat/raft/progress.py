"""What a leader knows about one follower's log, and how fast it may send to it.

Figure 2 keeps ``nextIndex[]`` and ``matchIndex[]`` per follower. To pipeline
AppendEntries without unbounded memory for a slow or dead follower, each follower is also in
one of three states, as in etcd-raft:

- PROBE: we do not know where its log matches ours. Send one AppendEntries, then wait for
  the answer (or the next heartbeat) before sending another; rejections walk ``next`` back
  with the fast back-off hints of section 5.3.
- REPLICATE: its log matched at ``match``. Send optimistically, advancing ``next`` past
  what was sent, with at most ``max_inflight`` unacknowledged AppendEntries.
- SNAPSHOT: ``next`` fell below our first log index (section 7), so we stream a snapshot
  to it, one chunk per round trip, and probe again when it is installed.
"""

from __future__ import annotations

import enum
from collections import deque


class ProgressState(enum.StrEnum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    """Replication state of one follower (voter or learner) on the leader."""

    def __init__(self, next_index: int, max_inflight: int) -> None:
        self.match = 0  # Figure 2 matchIndex: highest index known to be replicated there
        self.next = next_index  # Figure 2 nextIndex: the next entry to send
        self.state = ProgressState.PROBE
        self.probe_sent = False  # PROBE: an AppendEntries is out, wait for its answer
        self.max_inflight = max_inflight
        self.inflight: deque[int] = deque()  # REPLICATE: last index of each unacked batch
        self.snapshot_index = 0  # SNAPSHOT: which snapshot is being streamed
        self.snapshot_offset = 0  # SNAPSHOT: bytes the follower has acknowledged
        self.recent_active = False  # heard from it since the last check-quorum round
        self.read_ack = 0  # highest ReadIndex round (read_ctx) it acknowledged

    def paused(self) -> bool:
        """Whether an AppendEntries carrying entries must wait (heartbeats never wait)."""
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return len(self.inflight) >= self.max_inflight
        return True

    def sent(self, last_index: int | None) -> None:
        """Account for an AppendEntries whose last entry is ``last_index`` (None: empty)."""
        if self.state is ProgressState.PROBE:
            self.probe_sent = True
        elif last_index is not None:
            self.next = last_index + 1
            self.inflight.append(last_index)

    def become_probe(self) -> None:
        self.state = ProgressState.PROBE
        self.next = self.match + 1
        self.probe_sent = False
        self.inflight.clear()

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = self.match + 1
        self.inflight.clear()

    def become_snapshot(self, snapshot_index: int) -> None:
        self.state = ProgressState.SNAPSHOT
        self.snapshot_index = snapshot_index
        self.snapshot_offset = 0
        self.inflight.clear()

    def snapshot_installed(self) -> None:
        """The follower holds everything up to the snapshot: probe for what follows it."""
        self.match = max(self.match, self.snapshot_index)
        self.become_probe()

    def accepted(self, index: int) -> bool:
        """The follower's log matches ours up to ``index``; True if ``match`` advanced.

        An answer older than what we know is ignored. In PROBE any fresh success shows
        where the logs match, so replication can go optimistic from there.
        """
        if index < self.match:
            return False
        advanced = index > self.match
        self.match = index
        if self.state is ProgressState.PROBE:
            self.become_replicate()
        elif self.state is ProgressState.REPLICATE:
            self.next = max(self.next, index + 1)
            while self.inflight and self.inflight[0] <= index:
                self.inflight.popleft()
        return advanced

    def rejected(self, rejected_index: int, hint_next: int) -> bool:
        """The follower refused ``prev_log_index == rejected_index``; True if we moved back.

        Stale answers (duplicated or reordered) are recognised and ignored: in REPLICATE a
        rejection at or below ``match`` cannot be current, in PROBE only the answer to the
        probe we sent last (``next - 1``) counts. ``next`` never falls to ``match`` or below.
        """
        if self.state is ProgressState.REPLICATE:
            if rejected_index <= self.match:
                return False
            self.become_probe()
        elif self.state is ProgressState.PROBE:
            if rejected_index != self.next - 1:
                return False
        else:
            return False
        self.next = max(self.match + 1, min(hint_next, rejected_index))
        self.probe_sent = False
        return True
