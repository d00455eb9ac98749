"""Deliberately broken Raft cores: negative controls for the simulation's safety checker.

Each subclass of :class:`RaftNode` breaks one rule of the paper's Figure 2 in a way a
real implementation could; run through :class:`tests.raft.simulation.Simulation`, the
checker must catch it. Tests only: nothing outside tests/raft imports this.
"""

from __future__ import annotations

from twistedchat.raft.core import RaftNode
from twistedchat.raft.messages import RaftMessage, RequestVote


class GrantsEveryVote(RaftNode):
    """Grants every vote it is asked for: ignores that it already voted this term and
    whether the candidate's log is at least as up to date as its own (section 5.2, 5.4.1).
    Two candidates of one term can both win: Election Safety breaks."""

    def _on_request_vote(self, m: RequestVote) -> None:
        if not m.pre_vote:
            self._voted_for = m.src
            self._election_elapsed = 0
        self._send_vote_response(m, True)


class CommitsWithoutMajority(RaftNode):
    """A leader counts its own copy as enough: it commits its whole log at once, before
    any follower has it (Figure 2's last rule for leaders, without the majority). A new
    leader may lack an entry committed so: Leader Completeness and State Machine Safety
    break."""

    def _maybe_commit(self) -> None:
        if self.log.term(self.log.last_index) == self._term:
            self.log.commit_to(self.log.last_index)
        super()._maybe_commit()


class AcksBeforeDurable(RaftNode):
    """Acts as if storage were synchronous when it is not: a follower acknowledges
    entries (and grants votes) before they are durable, and a leader counts its own log
    before its write is (section 10.2.1 done wrong). An entry committed so can vanish
    in a crash while a new leader lacks it: Leader Completeness breaks."""

    def _needs_durability(self, m: RaftMessage, writes_pending: bool) -> bool:
        return False

    def _maybe_commit(self) -> None:
        self.log.mark_durable(self.log.last_index, self.log.last_term)
        super()._maybe_commit()
