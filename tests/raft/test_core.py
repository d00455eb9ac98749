"""Focused tests of the sans-IO Raft core, one rule of the paper or dissertation at a time.

A hand-driven network (:class:`Net`) delivers messages in order, with no loss unless a test
cuts a node off; only the ticks a test asks for happen, so each scenario is exact.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable
from typing import TypeVar

import pytest

from twistedchat.raft.core import (
    ConfigChangeRefused,
    HardState,
    NotLeader,
    RaftConfig,
    RaftNode,
    Role,
    SnapshotMeta,
)
from twistedchat.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Configuration,
    Entry,
    EntryKind,
    Forward,
    InstallSnapshot,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)

CFG = RaftConfig(election_ticks=10, heartbeat_ticks=1)
M = TypeVar("M")


def cluster(*ids: str, cfg: RaftConfig = CFG, learners: tuple[str, ...] = ()) -> Net:
    config = Configuration(frozenset(ids), frozenset(learners))
    return Net(
        *(
            RaftNode.bootstrap(node_id, cfg, random.Random(n), config)
            for n, node_id in enumerate(ids + learners)
        )
    )


def restarted(
    node_id: str, term: int, entries: list[Entry], cfg: RaftConfig = CFG, commit: int = 1
) -> RaftNode:
    return RaftNode(
        node_id,
        cfg,
        random.Random(node_id),
        hard_state=HardState(term, None, commit),
        snapshot=None,
        entries=entries,
    )


def config_entry(*voters: str) -> Entry:
    return Entry(1, 1, EntryKind.CONFIG, Configuration(frozenset(voters)).encode())


def commands(first: int, last: int, term: int) -> list[Entry]:
    return [Entry(term, i, EntryKind.COMMAND, b"x%d" % i) for i in range(first, last + 1)]


class Net:
    """Delivers messages in FIFO order; records what every node persisted, sent, applied."""

    def __init__(self, *nodes: RaftNode) -> None:
        self.nodes = {node.id: node for node in nodes}
        self.down: set[str] = set()  # cut off from the network, clocks still running
        self.queue: deque[RaftMessage] = deque()
        self.sent: list[RaftMessage] = []
        self.applied: defaultdict[str, list[Entry]] = defaultdict(list)
        self.reads: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        self.snapshots: defaultdict[str, list[bytes]] = defaultdict(list)

    def __getitem__(self, node_id: str) -> RaftNode:
        return self.nodes[node_id]

    def flush(self) -> None:
        for node in self.nodes.values():
            while node.has_ready():
                ready = node.ready()
                if ready.snapshot is not None:
                    self.snapshots[node.id].append(ready.snapshot[1])
                # Storage is synchronous here: persisted before anything is sent.
                node.persisted(ready)
                messages = ready.messages + ready.after_persist
                self.queue.extend(messages)
                self.sent.extend(messages)
                self.applied[node.id].extend(ready.committed)
                self.reads[node.id].extend(ready.read_states)
                node.advance(ready)

    def deliver(self, drop: Callable[[RaftMessage], bool] = lambda m: False) -> None:
        """Deliver until quiet; messages to or from a down node, or matching ``drop``, vanish."""
        self.flush()
        for _ in range(100_000):
            if not self.queue:
                return
            m = self.queue.popleft()
            if m.src not in self.down and m.dst not in self.down and not drop(m):
                self.nodes[m.dst].step(m)
                self.flush()
        raise AssertionError("messages never settled")

    def tick(
        self, *node_ids: str, times: int = 1, drop: Callable[[RaftMessage], bool] = lambda m: False
    ) -> None:
        for _ in range(times):
            for node_id in node_ids or tuple(self.nodes):
                self.nodes[node_id].tick()
            self.deliver(drop)

    def elect(
        self, node_id: str, drop: Callable[[RaftMessage], bool] = lambda m: False
    ) -> RaftNode:
        """Let only ``node_id``'s clock run until it has won an election."""
        node = self.nodes[node_id]
        for _ in range(3 * node.cfg.election_ticks):
            self.tick(node_id, drop=drop)
            if node.role is Role.LEADER:
                return node
        raise AssertionError(f"{node_id} did not win ({node.role}, term {node.term})")

    def sent_since(self, mark: int, kind: type[M], dst: str | None = None) -> list[M]:
        return [m for m in self.sent[mark:] if dst in (None, m.dst) and isinstance(m, kind)]


# -- bootstrap, elections --------------------------------------------------------------------


def test_bootstrap_hands_out_the_initial_configuration_to_persist_and_apply() -> None:
    node = RaftNode.bootstrap("a", CFG, random.Random(0), Configuration(frozenset("abc")))
    ready = node.ready()
    assert ready.hard_state == HardState(0, None, 1)
    initial = Entry(0, 1, EntryKind.CONFIG, Configuration(frozenset("abc")).encode())
    assert ready.entries == ready.committed == [initial]
    node.advance(ready)
    assert node.applied_index == 1 and not node.has_ready()
    assert node.configuration.voters == frozenset("abc")


def test_single_voter_commits_once_its_own_write_is_durable() -> None:
    net = cluster("a")
    leader = net.elect("a")
    assert leader.term == 1 and leader.leader_id == "a"
    leader.propose([b"one", b"two"])
    ready = leader.ready()
    assert [e.data for e in ready.entries] == [b"one", b"two"] and ready.must_sync
    assert ready.committed == [] and leader.commit_index == 2  # its own disk is the majority
    leader.persisted(ready)
    leader.advance(ready)
    assert [e.data for e in leader.ready().committed] == [b"one", b"two"]


def test_the_leader_commits_on_its_followers_disks_while_its_own_write_is_pending() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    leader.propose(b"x")
    ready = leader.ready()  # its write "takes long": never persisted in this test
    appends = [m for m in ready.messages if isinstance(m, AppendEntries) and m.entries]
    assert {m.dst for m in appends} == {"b", "c"}  # replication did not wait for the disk
    net.queue.extend(ready.messages)
    net.deliver()
    assert leader.commit_index == 3 and leader.log.durable_index == 2  # 10.2.1
    assert net.applied["a"][-1].data == b"x"  # and applied it


def test_a_follower_acknowledges_entries_only_once_they_are_durable() -> None:
    net = cluster("a", "b", "c")
    net.elect("a")
    follower = net["b"]
    durable = follower.log.durable_index
    follower.step(
        AppendEntries(
            "a", "b", 1, durable, 1, tuple(commands(durable + 1, durable + 2, 1)), durable
        )
    )
    ready = follower.ready()
    assert ready.messages == [] and ready.must_sync
    answer = AppendEntriesResponse("b", "a", 1, True, durable + 2, commit=durable)
    assert ready.after_persist == [answer]  # with the commit index it learnt
    # A heartbeat meanwhile (at the leader's next index) is answered at once, for the
    # durable prefix only: a slow disk delays acknowledgements, never heartbeats.
    follower.step(AppendEntries("a", "b", 1, durable + 2, 1, (), durable))
    beat = follower.ready()
    assert not beat.must_sync and beat.messages == [
        AppendEntriesResponse("b", "a", 1, True, durable, commit=durable)
    ]
    follower.persisted(ready)
    assert follower.log.durable_index == durable + 2


def test_a_change_of_the_commit_index_alone_is_not_written() -> None:
    net = cluster("a", "b", "c")
    net.elect("a")
    follower = net["b"]
    last = follower.last_index
    follower.step(AppendEntries("a", "b", 1, last, 1, tuple(commands(last + 1, last + 1, 1)), last))
    net.flush()
    follower.step(AppendEntries("a", "b", 1, last + 1, 1, (), last + 1))
    ready = follower.ready()
    assert not ready.must_sync and ready.hard_state is None
    assert [e.index for e in ready.committed] == [last + 1]


def test_election_with_pre_vote_noop_and_followers() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    assert leader.term == 1  # the pre-vote round did not spend a term
    assert [net[n].leader_id for n in "abc"] == ["a", "a", "a"]
    noop = Entry(1, 2, EntryKind.NOOP)
    assert all(net.applied[n][-1] == noop for n in "abc")  # commit index reached followers


def test_election_timeouts_are_randomized_within_one_to_two_timeouts() -> None:
    for seed in range(20):
        node = RaftNode.bootstrap("a", CFG, random.Random(seed), Configuration(frozenset("ab")))
        ticks = 0
        while node.role is not Role.PRE_CANDIDATE:
            node.tick()
            ticks += 1
        assert CFG.election_ticks <= ticks < 2 * CFG.election_ticks


def test_vote_requires_an_up_to_date_log_and_is_persisted_before_the_answer() -> None:
    entries = [config_entry("a", "b", "c"), *commands(2, 3, 1)]
    voter = restarted("b", 1, entries, commit=1)
    stale = RequestVote("a", "b", 2, last_log_index=2, last_log_term=1)
    voter.step(stale)
    assert voter.ready().messages == [RequestVoteResponse("b", "a", 2, False)]
    voter.step(RequestVote("c", "b", 2, last_log_index=3, last_log_term=1))
    ready = voter.ready()
    assert ready.hard_state == HardState(2, "c", 1)  # persisted before the grant leaves
    assert ready.messages == [] and ready.after_persist == [RequestVoteResponse("b", "c", 2, True)]
    voter.step(RequestVote("a", "b", 2, last_log_index=9, last_log_term=1))  # one vote a term
    assert voter.ready().messages == [RequestVoteResponse("b", "a", 2, False)]


def test_a_restarted_voter_remembers_its_vote() -> None:
    voter = RaftNode(
        "b",
        CFG,
        random.Random(0),
        hard_state=HardState(2, "c", 1),
        snapshot=None,
        entries=[config_entry("a", "b", "c")],
    )
    voter.step(RequestVote("a", "b", 2, last_log_index=5, last_log_term=1))
    assert voter.ready().messages == [RequestVoteResponse("b", "a", 2, False)]


def test_servers_outside_the_configuration_never_campaign() -> None:
    joiner = RaftNode(
        "z", CFG, random.Random(0), hard_state=HardState(0, None, 0), snapshot=None, entries=[]
    )
    learner = cluster("a", learners=("l",))["l"]
    for node in (joiner, learner):
        for _ in range(10 * CFG.election_ticks):
            node.tick()
        assert node.role is Role.LEARNER and node.term == 0
        assert not [m for m in node.ready().messages if isinstance(m, RequestVote)]


# -- pre-vote, check-quorum, leases ----------------------------------------------------------


def test_pre_vote_keeps_a_partitioned_server_from_inflating_terms_and_disrupting() -> None:
    net = cluster("a", "b", "c")
    net.elect("a")
    net.down.add("c")
    net.tick("c", times=10 * CFG.election_ticks)  # alone: pre-votes go unanswered
    assert net["c"].term == 1 and net["c"].role is Role.PRE_CANDIDATE
    net.down.clear()
    net.tick("c", times=3 * CFG.election_ticks)  # back: b and a are in their lease
    assert net["a"].role is Role.LEADER and net["a"].term == 1


def test_without_pre_vote_a_returning_server_disrupts_the_leader() -> None:
    net = cluster("a", "b", "c", cfg=RaftConfig(pre_vote=False, check_quorum=False))
    net.elect("a")
    net.down.add("c")
    net.tick("c", times=5 * CFG.election_ticks)
    assert net["c"].term > 3
    net.down.clear()
    net.tick("a")  # a's heartbeat meets c's higher term: a steps down (the problem 9.6 fixes)
    assert net["a"].role is Role.FOLLOWER


def test_pre_vote_is_granted_without_changing_the_voters_term() -> None:
    voter = cluster("a", "b", "c")["b"]
    voter.ready()
    voter.step(RequestVote("a", "b", 1, 1, 0, pre_vote=True))
    assert voter.ready().messages == [RequestVoteResponse("b", "a", 1, True, pre_vote=True)]
    assert voter.term == 0 and voter.hard_state.voted_for is None


def test_check_quorum_makes_an_isolated_leader_step_down() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    net.down.update("bc")
    net.tick("a", times=CFG.election_ticks)
    assert leader.role is Role.LEADER  # answers from before the cut still count
    net.tick("a", times=CFG.election_ticks)
    assert leader.role is Role.FOLLOWER and leader.term == 1


def test_a_stale_leader_learns_the_new_term_from_a_rejection() -> None:
    net = cluster("a", "b", "c")
    old = net.elect("a")
    net.down.add("a")
    net.tick("b", "c", times=3 * CFG.election_ticks)  # leases on a run out, then b or c win
    new = next(net[n] for n in "bc" if net[n].role is Role.LEADER)
    net.down.clear()
    net.tick("a")
    assert old.role is Role.FOLLOWER and old.term == new.term


# -- replication ------------------------------------------------------------------------------


def test_figure_8_a_leader_counts_replicas_only_of_entries_of_its_own_term() -> None:
    """Figure 8 (c): S1 leads term 4 holding an uncommitted term-2 entry; storing that entry
    on a majority must not commit it; committing the term-4 entry after it does."""
    one = RaftConfig(max_entries_per_append=1)
    base = [config_entry("s1", "s2", "s3")]
    s1 = restarted("s1", 3, [*base, Entry(2, 2, EntryKind.COMMAND, b"from term 2")], one)
    net = Net(s1, restarted("s2", 3, base, one), restarted("s3", 3, base, one))
    net.down.add("s3")
    term_4_entry: list[AppendEntries] = []

    def hold_term_4_entry(m: RaftMessage) -> bool:
        """Let s2 refuse the first probe, then keep the term-4 entry from reaching it."""
        has_2 = net["s2"].last_index >= 2
        if isinstance(m, AppendEntries) and has_2 and any(e.term == 4 for e in m.entries):
            term_4_entry.append(m)
            return True
        return False

    net.elect("s1", drop=hold_term_4_entry)  # only the term-2 entry reaches s2
    assert s1.term == 4 and s1.match_index("s2") == 2 and s1.last_index == 3
    assert s1.commit_index == 1  # index 2 is on a majority, but not of our term
    net.queue.extend(term_4_entry[:1])
    net.deliver()
    assert s1.commit_index == 3
    assert [e.index for e in net.applied["s1"]] == [1, 2, 3]  # re-applied after restart


def test_follower_commit_stops_at_the_last_entry_the_leader_vouched_for() -> None:
    """Figure 2 AppendEntries step 5: min(leaderCommit, index of last new entry)."""
    follower = restarted("b", 2, [config_entry("a", "b", "c"), *commands(2, 5, 2)])
    follower.step(AppendEntries("a", "b", 3, 2, 2, (), leader_commit=9))
    assert follower.commit_index == 2  # entries 3-5 may conflict with the leader's log


def test_a_stale_append_never_truncates_entries_that_arrived_after_it() -> None:
    follower = restarted("b", 2, [config_entry("a", "b")])
    follower.step(AppendEntries("a", "b", 2, 1, 1, tuple(commands(2, 4, 2)), 1))
    follower.step(AppendEntries("a", "b", 2, 1, 1, tuple(commands(2, 2, 2)), 1))  # stale
    assert follower.last_index == 4


def test_conflicting_suffix_is_overwritten_and_handed_out_for_truncation() -> None:
    follower = restarted("b", 2, [config_entry("a", "b"), *commands(2, 4, 2)])
    new = Entry(3, 3, EntryKind.COMMAND, b"new")
    follower.step(AppendEntries("a", "b", 3, 2, 2, (new,), 1))
    assert follower.ready().entries == [new] and follower.last_index == 3


def test_fast_back_off_skips_a_conflicting_term_in_one_round_trip() -> None:
    base = [config_entry("a", "b", "c")]
    net = Net(
        restarted("a", 4, [*base, *commands(2, 11, 2)]),
        restarted("b", 4, [*base, *commands(2, 21, 3)]),  # long uncommitted term-3 tail
        restarted("c", 4, [*base, *commands(2, 11, 2)]),
    )
    net.down.add("b")
    net.elect("a")
    net.down.clear()
    mark = len(net.sent)
    net.tick("a")
    rejections = [m for m in net.sent_since(mark, AppendEntriesResponse, "a") if not m.success]
    assert len(rejections) == 1
    assert (rejections[0].conflict_index, rejections[0].conflict_term) == (2, 3)
    assert net["b"].last_index == net["a"].last_index == 12
    assert net["b"].log.term(21) is None


def test_fast_back_off_for_a_short_follower_log() -> None:
    full = [config_entry("a", "b", "c"), *commands(2, 50, 1)]
    net = Net(
        restarted("a", 1, full, commit=50),
        restarted("b", 1, [config_entry("a", "b", "c")]),
        restarted("c", 1, full, commit=50),
    )
    net.down.add("b")
    net.elect("a")
    net.down.clear()
    mark = len(net.sent)
    net.tick("a")
    rejections = [m for m in net.sent_since(mark, AppendEntriesResponse) if not m.success]
    assert [(m.conflict_index, m.conflict_term) for m in rejections] == [(2, 0)]
    assert net["b"].commit_index == 51


def test_proposals_between_readies_leave_as_one_append_per_follower() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    for i in range(20):
        leader.propose(b"%d" % i)
    ready = leader.ready()
    assert len(ready.entries) == 20  # one batch to persist (group commit)
    appends = [m for m in ready.messages if isinstance(m, AppendEntries)]
    assert sorted(m.dst for m in appends) == ["b", "c"]
    assert all(len(m.entries) == 20 for m in appends)


def test_pipelining_is_bounded_for_a_follower_that_stops_answering() -> None:
    cfg = RaftConfig(max_entries_per_append=2, max_inflight_appends=3)
    net = cluster("a", "b", "c", cfg=cfg)
    leader = net.elect("a")
    net.down.add("c")
    mark = len(net.sent)
    for i in range(100):
        leader.propose(b"%d" % i)
        net.deliver()
    to_c = net.sent_since(mark, AppendEntries, "c")
    assert len([m for m in to_c if m.entries]) == 3  # then paused
    assert len(to_c) <= 6  # plus commit-index updates until paused
    assert net["b"].commit_index == leader.commit_index == leader.last_index
    mark = len(net.sent)
    net.tick("a", times=5)  # heartbeats keep going, without entries
    assert [len(m.entries) for m in net.sent_since(mark, AppendEntries, "c")] == [0] * 5


def test_a_lost_pipelined_append_is_resent_after_the_heartbeat_fails() -> None:
    net = cluster("a", "b", cfg=RaftConfig(max_entries_per_append=1))
    leader = net.elect("a")
    leader.propose([b"1", b"2", b"3"])
    net.deliver(
        drop=lambda m: (
            isinstance(m, AppendEntries)
            and m.entries[:1] == (Entry(1, 4, EntryKind.COMMAND, b"2"),)
        )
    )
    assert net["b"].last_index == 3
    net.tick("a")  # the heartbeat at next - 1 is refused: back to probing from 4
    assert net["b"].last_index == 5 and net["b"].commit_index == 5


# -- forwarding and ReadIndex ----------------------------------------------------------------


def test_followers_forward_proposals_and_refuse_without_a_leader() -> None:
    net = cluster("a", "b", "c")
    with pytest.raises(NotLeader) as no_leader:
        net["b"].propose(b"early")
    assert no_leader.value.leader is None
    net.elect("a")
    net["b"].propose([b"x", b"y"])
    net.deliver()
    assert [e.data for e in net.applied["c"][-2:]] == [b"x", b"y"]
    assert any(isinstance(m, Forward) and m.dst == "a" for m in net.sent)


def test_read_index_waits_for_a_majority_heartbeat() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    net.down.update("bc")
    leader.read_index(7)
    net.deliver()
    assert net.reads["a"] == []  # cut off: leadership cannot be confirmed
    net.down.discard("b")
    leader.read_index(8)
    net.deliver()
    assert net.reads["a"] == [(7, 2), (8, 2)]
    with pytest.raises(NotLeader) as follower:
        net["b"].read_index(9)
    assert follower.value.leader == "a"


def test_read_index_waits_for_the_new_leaders_first_commit() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a", drop=lambda m: isinstance(m, AppendEntries))
    leader.read_index(1)
    net.deliver()
    assert net.reads["a"] == [] and leader.commit_index == 1  # the no-op is not committed
    net.down.clear()
    net.tick("a")
    assert net.reads["a"] == [(1, 2)]


def test_single_voter_reads_at_once() -> None:
    net = cluster("a")
    leader = net.elect("a")
    leader.read_index(3)
    assert leader.ready().read_states == [(3, 2)]


# -- leadership transfer -----------------------------------------------------------------------


def test_transfer_catches_the_target_up_then_hands_over() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    net.down.add("b")
    leader.propose([b"1", b"2"])
    net.deliver()
    net.down.clear()
    leader.transfer_leadership("b")
    with pytest.raises(NotLeader) as refused:
        leader.propose(b"during")
    assert refused.value.leader == "b"
    net.tick("a")  # the heartbeat finds what b missed
    assert net["b"].role is Role.LEADER and net["b"].term == 2  # no timeout needed
    assert leader.role is Role.FOLLOWER
    assert [m.dst for m in net.sent if isinstance(m, TimeoutNow)] == ["b"]
    assert any(isinstance(m, RequestVote) and m.transfer for m in net.sent)


def test_a_transfer_to_an_unreachable_target_is_abandoned() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    net.down.add("b")
    leader.transfer_leadership("b")
    net.tick("a", "c", times=CFG.election_ticks)
    assert leader.role is Role.LEADER
    leader.propose(b"accepted again")


def test_transfer_target_is_the_most_up_to_date_voter() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    net.down.add("b")
    leader.propose(b"1")
    net.deliver()
    assert leader.transfer_target() == "c"


# -- snapshots -------------------------------------------------------------------------------


def test_install_snapshot_in_chunks_then_replicate_after_it() -> None:
    cfg = RaftConfig(snapshot_chunk_bytes=10)
    net = cluster("a", "b", "c", cfg=cfg)
    leader = net.elect("a")
    net.down.add("c")
    leader.propose([b"%d" % i for i in range(5)])
    net.deliver()
    state = bytes(range(95))
    meta = leader.compact(leader.applied_index, state)
    assert meta.index == 7 and meta.config.voters == frozenset("abc")
    assert leader.log.first_index == 8
    net.down.clear()
    net.tick("a")
    chunks = [m for m in net.sent if isinstance(m, InstallSnapshot)]
    assert len(chunks) == 10 and [m.offset for m in chunks] == list(range(0, 100, 10))
    assert chunks[-1].done and not any(m.done for m in chunks[:-1])
    assert net.snapshots["c"] == [state]
    c = net["c"]
    assert c.applied_index == c.commit_index == 7 and c.log.first_index == 8
    leader.propose(b"after")
    net.deliver()
    assert net.applied["c"][-1].data == b"after"


def test_a_lost_chunk_is_sent_again_on_the_next_heartbeat() -> None:
    net = cluster("a", "b", "c", cfg=RaftConfig(snapshot_chunk_bytes=4))
    leader = net.elect("a")
    net.down.add("b")
    leader.propose(b"1")
    net.deliver()
    leader.compact(leader.applied_index, b"0123456789")
    net.down.clear()
    lost: list[int] = []

    def lose_second_chunk_once(m: RaftMessage) -> bool:
        if isinstance(m, InstallSnapshot) and m.offset == 4 and not lost:
            lost.append(m.offset)
            return True
        return False

    net.tick("a", drop=lose_second_chunk_once)
    assert lost and net.snapshots["b"] == []
    net.tick("a")
    assert net.snapshots["b"] == [b"0123456789"]


def test_a_snapshot_the_follower_already_holds_is_not_installed() -> None:
    follower = restarted("b", 2, [config_entry("a", "b"), *commands(2, 6, 2)])
    follower.step(InstallSnapshot("a", "b", 2, 4, 2, ("a", "b"), (), 0, b"abc", False))
    ready = follower.ready()
    assert ready.snapshot is None and follower.commit_index == 4 and follower.last_index == 6


def test_restart_from_a_snapshot_rehands_committed_entries_after_it() -> None:
    net = cluster("a")
    leader = net.elect("a")
    leader.propose([b"1", b"2", b"3"])
    net.deliver()
    meta = leader.compact(3, b"state@3")
    entries = leader.log.slice(4, leader.last_index)
    node = RaftNode(
        "a",
        CFG,
        random.Random(1),
        hard_state=HardState(leader.term, "a", 4),  # persisted commit lags behind
        snapshot=meta,
        entries=entries,
        snapshot_data=lambda: b"state@3",
    )
    assert node.applied_index == 3
    assert [e.data for e in node.ready().committed] == [b"2"]
    Net(node).elect("a")
    assert node.commit_index == 6  # re-learned once it leads again


def test_a_snapshot_without_its_data_is_refused() -> None:
    meta = SnapshotMeta(3, 1, Configuration(frozenset("a")))
    with pytest.raises(ValueError):
        RaftNode(
            "a", CFG, random.Random(0), hard_state=HardState(1, None, 3), snapshot=meta, entries=[]
        )


# -- membership ------------------------------------------------------------------------------


def test_config_change_refusals() -> None:
    net = cluster("a", "b", "c")
    with pytest.raises(NotLeader):
        net["b"].propose_config(Configuration(frozenset("abcd")))
    leader = net.elect("a", drop=lambda m: isinstance(m, AppendEntries))
    with pytest.raises(ConfigChangeRefused, match="term"):
        leader.propose_config(Configuration(frozenset("abcd")))  # the 2015 fix
    net.down.clear()
    net.tick("a")
    with pytest.raises(ConfigChangeRefused, match="one voter"):
        leader.propose_config(Configuration(frozenset("abcde")))
    with pytest.raises(ConfigChangeRefused, match="voter and learner"):
        leader.propose_config(Configuration(frozenset("abc"), frozenset("c")))
    net.down.update("bc")
    leader.propose_config(Configuration(frozenset("abc"), frozenset("d")))
    with pytest.raises(ConfigChangeRefused, match="not committed"):
        leader.propose_config(Configuration(frozenset("abc")))


def test_add_a_learner_promote_it_then_remove_the_leader() -> None:
    net = cluster("a", "b", "c")
    net.nodes["d"] = RaftNode(
        "d", CFG, random.Random(9), hard_state=HardState(0, None, 0), snapshot=None, entries=[]
    )
    leader = net.elect("a")
    leader.propose_config(Configuration(frozenset("abc"), frozenset("d")))
    net.deliver()
    d = net["d"]
    assert d.role is Role.LEARNER and d.commit_index == leader.commit_index
    net.down.update("bc")  # the learner does not count towards a majority
    leader.propose(b"needs a voter")
    net.deliver()
    assert leader.commit_index < leader.last_index
    net.down.clear()
    net.tick("a")
    leader.propose_config(Configuration(frozenset("abcd")))
    net.deliver()
    assert d.role is Role.FOLLOWER and d.configuration.voters == frozenset("abcd")
    leader.propose_config(Configuration(frozenset("bcd")))
    assert leader.role is Role.LEADER  # keeps leading until the removal commits (4.2.2)
    net.deliver()
    assert leader.role is Role.LEARNER and leader.configuration.voters == frozenset("bcd")
    net.tick("b", "c", "d", times=3 * CFG.election_ticks)
    assert {net[n].role for n in "bcd"} == {Role.LEADER, Role.FOLLOWER}
    assert net["a"].role is Role.LEARNER


def test_a_truncated_config_entry_takes_its_configuration_with_it() -> None:
    follower = restarted("b", 2, [config_entry("a", "b", "c")])
    new = Entry(2, 2, EntryKind.CONFIG, Configuration(frozenset("abcd")).encode())
    follower.step(AppendEntries("a", "b", 2, 1, 1, (new,), 1))
    assert follower.configuration.voters == frozenset("abcd")
    follower.step(AppendEntries("c", "b", 3, 1, 1, (Entry(3, 2, EntryKind.NOOP),), 1))
    assert follower.configuration.voters == frozenset("abc")


def test_configuration_encoding_round_trips_deterministically() -> None:
    config = Configuration(frozenset({"n2", "n1"}), frozenset({"l"}))
    assert config.encode() == b'{"voters":["n1","n2"],"learners":["l"]}'
    assert Configuration.decode(config.encode()) == config


def test_compaction_keeps_the_configuration_in_force_at_the_snapshot_index() -> None:
    """A later, uncommitted CONFIG entry may still be truncated: the snapshot must not
    claim its configuration."""
    follower = restarted("b", 2, [config_entry("a", "b", "c"), *commands(2, 3, 2)], commit=3)
    new = Entry(2, 4, EntryKind.CONFIG, Configuration(frozenset("abcd")).encode())
    follower.step(AppendEntries("a", "b", 2, 3, 2, (new,), leader_commit=3))
    follower.advance(follower.ready())
    meta = follower.compact(3, b"state")
    assert meta.config.voters == frozenset("abc")
    assert follower.configuration.voters == frozenset("abcd")


# -- who may act on a server: members only (decision 0018) ---------------------------------


def test_a_non_member_can_neither_write_a_followers_log_nor_move_its_term() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    follower = net["b"]
    term, last = follower.term, follower.last_index
    forged = Entry(term + 1, last + 1, EntryKind.COMMAND, b"forged")
    follower.step(AppendEntries("x", "b", term + 1, last, term, (forged,), last + 1))
    follower.step(RequestVote("x", "b", term + 5, last + 9, term + 5))
    follower.step(TimeoutNow("x", "b", term))
    follower.step(InstallSnapshot("x", "b", term + 1, last + 5, term, ("x",), (), 0, b"s", True))
    assert follower.term == term and follower.last_index == last
    assert follower.leader_id == "a" and follower.ready().messages == []
    assert leader.role is Role.LEADER


def test_a_member_with_a_stale_configuration_takes_the_log_of_a_leader_it_does_not_know() -> None:
    """It missed the change that added today's leader and hears no leader it knows: it
    must catch up from that leader (found by the simulation, seed 4805), while a member
    that does hear its leader refuses the same messages (the test above)."""
    stale = restarted("e", 3, [config_entry("a", "b", "e")], commit=1)
    for _ in range(CFG.election_ticks):  # nobody it knows speaks to it
        stale.tick()
    assert stale.leader_id is None
    ours = Entry(4, 2, EntryKind.CONFIG, Configuration(frozenset("bdx"), frozenset("e")).encode())
    stale.step(AppendEntries("x", "e", 4, 1, 1, (ours,), 2))
    assert stale.leader_id == "x" and stale.term == 4 and stale.commit_index == 2
    assert stale.configuration.members() == frozenset("bdxe")


def test_a_leader_takes_no_proposals_acks_or_votes_from_a_non_member() -> None:
    net = cluster("a", "b", "c")
    leader = net.elect("a")
    last = leader.last_index
    leader.step(Forward("x", "a", leader.term, (b"forged",)))
    leader.step(AppendEntriesResponse("x", "a", leader.term + 3, False, 0))
    assert leader.last_index == last and leader.role is Role.LEADER
    assert leader.term == net["b"].term


def test_forged_grants_from_a_non_member_elect_nobody() -> None:
    net = cluster("a", "b", "c")
    net.down.update("bc")
    a = net["a"]
    for _ in range(2 * CFG.election_ticks):
        a.tick()
    assert a.role is Role.PRE_CANDIDATE
    a.step(RequestVoteResponse("x", "a", a.term + 1, True, pre_vote=True))
    a.step(RequestVoteResponse("y", "a", a.term + 1, True, pre_vote=True))
    assert a.role is Role.PRE_CANDIDATE and a.term == 0


def test_a_joining_server_accepts_the_leaders_log_from_before_the_leader_joined() -> None:
    """The log starts with the founders' configuration, which a later leader is not in."""
    net = cluster("a", "b")
    net.nodes["d"] = RaftNode(
        "d", CFG, random.Random(9), hard_state=HardState(0, None, 0), snapshot=None, entries=[]
    )
    net.elect("a").propose_config(Configuration(frozenset("ab"), frozenset("d")))
    net.deliver()
    net["a"].propose_config(Configuration(frozenset("abd")))
    net.deliver()
    net["a"].propose_config(Configuration(frozenset("bd")))  # a leaves; founders were "ab"
    net.deliver()
    net.tick("b", "d", times=3 * CFG.election_ticks)
    leader = next(net[n] for n in "bd" if net[n].role is Role.LEADER)
    net.nodes["e"] = RaftNode(
        "e", CFG, random.Random(5), hard_state=HardState(0, None, 0), snapshot=None, entries=[]
    )
    leader.propose_config(Configuration(frozenset("bd"), frozenset("e")))
    net.deliver()
    e = net["e"]
    assert e.role is Role.LEARNER and e.last_index == leader.last_index
    assert e.commit_index == leader.commit_index  # every AppendEntries of the replay taken


def test_a_leader_removing_itself_is_heard_until_its_removal_commits() -> None:
    follower = restarted("b", 2, [config_entry("a", "b", "c")])
    removal = Entry(2, 2, EntryKind.CONFIG, Configuration(frozenset("bc")).encode())
    follower.step(AppendEntries("a", "b", 2, 1, 1, (removal,), 1))
    assert follower.configuration.voters == frozenset("bc")
    follower.persisted(follower.ready())
    follower.step(AppendEntries("a", "b", 2, 2, 2, (), 1))  # still a's term: heard
    assert follower.ready().messages == [AppendEntriesResponse("b", "a", 2, True, 2, commit=1)]
    follower.step(AppendEntries("a", "b", 2, 2, 2, (), 2))  # the removal commits
    follower.ready()
    follower.step(AppendEntries("a", "b", 3, 2, 2, (), 2))  # from then on a is nobody
    assert follower.ready().messages == [] and follower.term == 2


# -- the log's clock: the leader's, never backwards (decision 0020) --------------------------


def test_the_leader_stamps_entries_with_the_voters_clock_and_time_never_runs_back() -> None:
    clocks = {"a": 5_000, "b": 9_000_000, "c": 1}  # b is far ahead, c far behind
    config = Configuration(frozenset("abc"))
    net = Net(
        *(
            RaftNode.bootstrap(n, CFG, random.Random(i), config, lambda n=n: clocks[n])
            for i, n in enumerate("abc")
        )
    )
    leader = net.elect("a")
    net["b"].propose(b"from b")  # forwarded: a stamps it, b's clock does not count
    net.deliver()
    clocks["a"] = 4_000  # the leader's clock steps back
    leader.propose(b"after the step back")
    net.deliver()
    times = {e.data: e.time for e in net.applied["c"]}
    assert times[b"from b"] == 5_000 and times[b"after the step back"] == 5_000
    assert [e.time for e in net.applied["b"]] == [e.time for e in net.applied["a"]]
    clocks["a"] = 7_000
    leader.propose(b"later")
    net.deliver()
    assert net.applied["b"][-1].time == 7_000


def test_a_leader_whose_clock_is_off_stamps_the_time_most_voters_agree_on() -> None:
    day = 86_400_000
    clocks = {"a": 1_000 + 40 * day, "b": 1_000, "c": 1_200}  # the leader, 40 days ahead
    config = Configuration(frozenset("abc"))
    net = Net(
        *(
            RaftNode.bootstrap(n, CFG, random.Random(i), config, lambda n=n: clocks[n])
            for i, n in enumerate("abc")
        )
    )
    net.elect("a")  # the votes it got told it b's and c's clocks: even its no-op is right
    net["a"].propose(b"line")
    net.deliver()
    assert [e.time for e in net.applied["b"][1:]] == [1_200, 1_200]  # the median, not a's
    clocks["a"] = 1_500 - 40 * day  # now far behind: the log's time does not go back
    net.tick("a")
    net["a"].propose(b"later")
    net.deliver()
    assert net.applied["c"][-1].time == 1_200
