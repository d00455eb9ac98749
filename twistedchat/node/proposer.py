"""A node's side of exactly-once (Raft dissertation 6.3): sequence numbers, writes in
flight, retries and batches. Pure given a clock: it proposes to a :class:`CommandLog`
and is told what was applied.

Every command of a session gets the next sequence number and stays pending until the
entry carrying that ``(session, seq)`` is applied; until then it is proposed again after
each ``retry_interval`` and whenever a new leader is known (a proposal may die with the
old one). The chat state applies each sequence number once and in order, so retries are
harmless.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from twistedchat.chat.command import Command
from twistedchat.wire.message import Message


class CommandLog(Protocol):
    """The ordered log the node proposes to: Raft in a node, a list in unit tests."""

    def propose(self, entries: list[bytes]) -> None:
        """Try to append ``entries``; may silently drop them (the proposer retries)."""

    def writable(self) -> bool:
        """Whether proposals can be committed now."""


@dataclass(slots=True)
class PendingWrite:
    """A proposed command not applied yet: its bytes, the client's label, when sent."""

    seq: int
    data: bytes
    label: str | None
    sent_at: float


@dataclass(slots=True)
class Writes:
    """One session's writes: the next sequence number to hand out, the last one applied
    (``acked``) and those in flight, oldest first."""

    next_seq: int = 1
    acked: int = 0
    pending: deque[PendingWrite] = field(default_factory=deque)


class Proposer:
    """Numbers, batches and retries the writes of this node's sessions."""

    def __init__(self, node_id: str, clock: IReactorTime, retry_interval: float):
        self.node_id = node_id
        self.clock = clock
        self.retry_interval = retry_interval
        self.log: CommandLog | None = None
        self._batch: list[bytes] = []
        self._flush_call: IDelayedCall | None = None

    def propose(
        self, session: str, writes: Writes, message: Message, label: str | None, *, send: bool
    ) -> None:
        """Give ``message`` the session's next sequence number and keep it pending;
        ``send`` False holds it (a node not ready yet) until :meth:`resend`."""
        seq = writes.next_seq
        writes.next_seq += 1
        command = Command(session, seq, 0, self.node_id, message, label)  # the log's time
        pending = PendingWrite(seq, command.encode(), label, self.clock.seconds())
        writes.pending.append(pending)
        if send:
            self._queue(pending.data)

    def resend(self, writes: Writes) -> None:
        """Propose again every write of the session still in flight, in order."""
        now = self.clock.seconds()
        for pending in writes.pending:
            pending.sent_at = now
            self._queue(pending.data)

    def overdue(self, writes: Writes) -> bool:
        """Whether the session's oldest write has waited a retry interval."""
        pending = writes.pending
        return bool(pending) and self.clock.seconds() - pending[0].sent_at >= self.retry_interval

    def settle(self, command: Command, writes: Writes) -> PendingWrite | None:
        """``command`` of this session was applied: the write it answers, if one waits.

        None for a retry of something already applied (applied once, answered once),
        for a write an earlier connection of the session proposed (nobody waits on it),
        and for one applied out of order: an earlier write was lost and this one refused
        to keep the order, so all of them are proposed again.
        """
        if command.seq <= writes.acked:
            return None
        if command.seq != writes.acked + 1:
            self.resend(writes)
            return None
        writes.acked = command.seq
        if not writes.pending or writes.pending[0].seq != command.seq:
            return None
        return writes.pending.popleft()

    def settle_restored(self, applied: int, writes: Writes) -> list[PendingWrite]:
        """A snapshot installed the state up to the session's ``applied`` sequence
        number: the writes it answered (with no reply, which the snapshot lost)."""
        done = []
        while writes.pending and writes.pending[0].seq <= applied:
            writes.acked = writes.pending[0].seq
            done.append(writes.pending.popleft())
        return done

    def stop(self) -> None:
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()

    def _queue(self, data: bytes) -> None:
        """Collect proposals made in this reactor turn into one batch (one log append)."""
        self._batch.append(data)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        batch, self._batch = self._batch, []
        if batch and self.log is not None:
            self.log.propose(batch)
