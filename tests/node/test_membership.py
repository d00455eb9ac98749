"""The leader's membership policy and the bootstrap rule."""

from __future__ import annotations

from twistedchat.node.membership import ClusterView, MembershipPolicy, bootstrap_voters
from twistedchat.raft.messages import Configuration

NOW = 1000.0


def view(
    voters: set[str],
    learners: set[str] = frozenset(),  # type: ignore[assignment]
    *,
    match: dict[str, int] | None = None,
    silent: set[str] = frozenset(),  # type: ignore[assignment]
    candidates: set[str] = frozenset(),  # type: ignore[assignment]
    leaving: set[str] = frozenset(),  # type: ignore[assignment]
) -> ClusterView:
    members = voters | learners | candidates
    return ClusterView(
        config=Configuration(frozenset(voters), frozenset(learners)),
        leader_id="a",
        last_index=100,
        match=match or {m: 100 for m in voters | learners},
        last_heard={m: (NOW - 60 if m in silent else NOW - 1) for m in members},
        candidates=candidates,
        leaving=leaving,
        now=NOW,
    )


POLICY = MembershipPolicy(max_voters=5, bootstrap_expect=3, dead_timeout=30)


def test_a_new_node_joins_as_learner_then_becomes_voter() -> None:
    change = POLICY.next_change(view({"a", "b", "c"}, candidates={"d"}))
    assert change == Configuration(frozenset("abc"), frozenset("d"))
    lagging = view({"a", "b", "c"}, {"d"}, match={"a": 100, "b": 100, "c": 100, "d": 3})
    assert POLICY.next_change(lagging) is None
    assert POLICY.next_change(view({"a", "b", "c"}, {"d"})) == Configuration(frozenset("abcd"))


def test_voters_are_capped_and_extra_nodes_stay_learners() -> None:
    assert POLICY.next_change(view(set("abcde"), {"f"})) is None


def test_dead_voter_is_removed_but_never_below_bootstrap_expect() -> None:
    assert POLICY.next_change(view(set("abcd"), silent={"d"})) == Configuration(frozenset("abc"))
    assert POLICY.next_change(view(set("abc"), silent={"c"})) is None


def test_dead_learner_is_removed() -> None:
    change = POLICY.next_change(view(set("abc"), {"x"}, silent={"x"}))
    assert change == Configuration(frozenset("abc"))


def test_one_change_at_a_time() -> None:
    change = POLICY.next_change(view(set("abcde"), silent={"d", "e"}))
    assert change is not None and len(change.voters) == 4


def test_leaving_node_is_removed_first_and_not_readded() -> None:
    change = POLICY.next_change(view(set("abc"), candidates={"z"}, leaving={"c"}))
    assert change == Configuration(frozenset("ab"))
    assert POLICY.next_change(view(set("ab"), candidates={"c"}, leaving={"c"})) is None


def test_caught_up_learner_replaces_a_dead_voter_even_at_the_cap() -> None:
    policy = MembershipPolicy(max_voters=3, bootstrap_expect=3, dead_timeout=30)
    step1 = policy.next_change(view(set("abc"), {"d"}, silent={"c"}))
    assert step1 == Configuration(frozenset("abcd"))  # one above the cap, briefly
    step2 = policy.next_change(view(set("abcd"), silent={"c"}))
    assert step2 == Configuration(frozenset("abd"))
    assert policy.next_change(view(set("abc"), {"d"})) is None  # no dead voter: cap holds


def test_bootstrap_waits_for_expect_then_picks_the_smallest_ids() -> None:
    assert bootstrap_voters("b", {"a"}, 3) is None
    assert bootstrap_voters("b", {"a", "c"}, 3) == frozenset("abc")
    assert bootstrap_voters("d", {"a", "b", "c"}, 3) == frozenset()
    assert bootstrap_voters("a", set(), 1) == frozenset("a")


def test_nodes_with_the_same_view_agree() -> None:
    seen = {"n1", "n2", "n3", "n4"}
    choices = {bootstrap_voters(me, seen, 3) for me in seen}
    assert choices == {frozenset({"n1", "n2", "n3"}), frozenset()}
