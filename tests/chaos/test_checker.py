"""The chaos checker finds each kind of violation, and passes a correct history."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.checker import History, check, plain_summary, unavailability


def correct() -> History:
    history = History(seed=1, sent={"a-1": 0.0, "b-1": 0.1, "a-2": 3.0})
    history.acked = {"a-1": 0.2, "b-1": 0.3, "a-2": 3.2}
    history.joined = {"a": 0.0, "b": 0.0}
    for client in ("a", "b"):
        history.delivered[client] = [["a-1", "5-1"], ["b-1", "6-1"], ["a-2", "1f-1"]]
    return history


def test_a_correct_history_passes_and_round_trips(tmp_path: Path) -> None:
    history = correct()
    assert check(history) == []
    history.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json") == history
    assert unavailability(history) == [(0.3, 3.2)]


def test_each_kind_of_violation_is_reported() -> None:
    history = correct()
    history.delivered["a"] = [["a-1", "5-1"], ["a-1", "5-1"], ["ghost", "7-1"], ["b-1", "4-1"]]
    history.delivered["b"] = [["a-1", "5-2"], ["b-1", "6-1"], ["a-2", "1f-1"]]
    violations = check(history)
    assert "a: a-1 delivered more than once" in violations
    assert "a: ghost delivered but never sent" in violations
    assert "a: acknowledged a-2 never delivered" in violations
    assert any("out of log order" in v for v in violations)
    assert "b: a-1 has msgid 5-2, elsewhere 5-1" in violations


def test_lost_sessions_and_refused_lines_are_violations() -> None:
    history = correct()
    history.lost.append(["b", 2.5])
    history.refused.append(["b", "b-2", "404 #chaos Cannot send to channel"])
    assert check(history)[:2] == [
        "b: session lost at 2.5s",
        "b: b-2 refused (404 #chaos Cannot send to channel)",
    ]


def test_a_message_one_client_saw_and_another_member_missed_breaks_uniform_agreement() -> None:
    history = correct()
    history.sent["b-2"] = 4.0  # never acknowledged (its echo was lost with b's node)...
    history.delivered["a"].append(["b-2", "20-1"])  # ...but a saw it, and b never did
    history.sent["a-3"] = 4.5
    history.delivered["b"].append(["a-3", "21-1"])  # and the other way round
    assert check(history) == [
        "b: b-2 never delivered, though a saw it (uniform agreement)",
        "a: a-3 never delivered, though b saw it (uniform agreement)",
    ]


def test_uniform_agreement_holds_whoever_sees_an_unacknowledged_message() -> None:
    history = correct()
    history.sent.update({"b-2": 4.0, "a-3": 4.1, "b-3": 4.2})
    for client in ("a", "b"):  # seen by everyone, unacknowledged: agreed, so legal
        history.delivered[client].append(["b-2", "20-1"])
    # a-3 reached nobody: an unacknowledged line may be lost, as long as it is lost for all.
    # c joined at 4.15: after b-2 was sent (not bound by it), before b-3 (bound).
    history.joined["c"] = 4.15
    acknowledged = [["a-1", "5-1"], ["b-1", "6-1"], ["a-2", "1f-1"]]  # these reach everyone
    history.delivered["c"] = [*acknowledged, ["b-3", "22-1"]]
    assert check(history) == [  # c alone saw b-3, but a and b were in the channel
        "a: b-3 never delivered, though c saw it (uniform agreement)",
        "b: b-3 never delivered, though c saw it (uniform agreement)",
    ]
    history.delivered["a"].append(["b-3", "22-1"])
    history.delivered["b"].append(["b-3", "22-1"])
    assert check(history) == []


def test_uniform_agreement_binds_only_clients_present_when_the_message_was_sent() -> None:
    history = correct()
    history.sent["a-3"] = 4.0
    history.delivered["a"].append(["a-3", "20-1"])
    history.joined["late"] = 5.0  # joined after a-3 was sent: not bound by it
    history.delivered["late"] = [["a-1", "5-1"], ["b-1", "6-1"], ["a-2", "1f-1"]]
    history.joined["b"] = 0.0
    history.lost.append(["b", 3.9])  # b lost its session (a violation of its own)
    assert check(history) == ["b: session lost at 3.9s"]
    del history.joined["late"]  # with no join time, the checker cannot hold it to it
    history.lost.clear()
    assert check(history) == ["b: a-3 never delivered, though a saw it (uniform agreement)"]


def with_plain(*events: list[object]) -> History:
    """The correct history, plus a plain client ``p`` that joined at 0.05s (before the
    first line was placed, which c-1 at 0.01s was not) and then did ``events``."""
    history = correct()
    history.sent["c-1"] = 0.01  # said before p's JOIN was answered: not owed to p
    history.acked["c-1"] = 0.02
    for client in ("a", "b"):
        history.delivered[client].insert(0, ["c-1", "4-1"])
    history.plain["p"] = [["welcome", 0.04, "new"], ["join", 0.05], *events]
    return history


def lines(*texts: str) -> list[list[object]]:
    return [["line", text] for text in texts]


def test_a_plain_client_is_owed_every_line_after_its_first_join_once_in_order() -> None:
    assert check(with_plain(*lines("a-1", "b-1", "a-2"))) == []
    history = with_plain(*lines("a-1", "a-2", "a-2", "b-1", "p-1", "ghost"))
    history.sent["p-1"] = 1.0
    assert check(history) == [
        "p: a-2 (1f-1) delivered more than once",
        "p: b-1 (6-1) delivered out of log order",
        "p: its own p-1 delivered back to it (it has no echo-message)",
        "p: ghost delivered but never sent",
    ]
    history = with_plain(*lines("a-1", "a-2"))
    assert check(history) == ["p: acknowledged b-1 (6-1, sent 0.1s) never delivered"]
    history.sent["b-2"] = 4.0  # never acknowledged, but a saw it: in the log, so owed
    history.delivered["a"].append(["b-2", "20-1"])
    history.delivered["b"].append(["b-2", "20-1"])
    assert check(history)[1:] == ["p: b-2 (20-1, sent 4.0s) never delivered, though a, b saw it "
                                  "(uniform agreement)"]  # fmt: skip


def test_a_reclaimed_session_owes_what_was_said_meanwhile_unless_the_replay_was_cut() -> None:
    back = [["drop", 0.15, "connection lost"], ["welcome", 2.0, "back"], ["join", 2.0]]
    history = with_plain(*lines("a-1"), *back, *lines("a-2"))
    assert check(history) == ["p: acknowledged b-1 (6-1, sent 0.1s) never delivered"]
    replayed = [["replay", 2.0, 1, 1], *lines("b-1", "a-2")]
    assert check(with_plain(*lines("a-1"), *back, *replayed)) == []
    cut = [["replay", 2.0, 1, 2], *lines("a-2")]  # the last 1 of 2: b-1 was left out
    assert check(with_plain(*lines("a-1"), *back, *cut)) == []
    cut = [["replay", 2.0, 1, 2], *lines("b-1")]  # but a-2, sent later, is still owed
    assert check(with_plain(*lines("a-1"), *back, *cut)) == [
        "p: acknowledged a-2 (1f-1, sent 3.0s) never delivered"
    ]


def test_a_failed_reclaim_owes_nothing_until_the_client_joined_again() -> None:
    anew = [["drop", 0.15, "connection lost"], ["welcome", 2.0, "new"], ["join", 2.1]]
    history = with_plain(*lines("a-1"), *anew, *lines("a-2"))
    assert check(history) == []  # b-1 was said while it had no session
    history.sent["b-2"] = 2.5  # after its JOIN was answered: owed
    history.acked["b-2"] = 2.6
    for client in ("a", "b"):
        history.delivered[client].insert(-1, ["b-2", "1e-1"])
    assert check(history) == ["p: acknowledged b-2 (1e-1, sent 2.5s) never delivered"]
    history.plain["p"] = history.plain["p"][:-2]  # registered anew, never joined again:
    assert check(history) == [  # owed nothing more, but that is a violation of its own
        "p: not back in the channel by the end (its session had ended (registered anew at 2.0s))"
    ]
    history.plain["p"].append(["gave-up", 9.0, 200])
    assert check(history)[0] == "p: gave up reconnecting after 200 failed attempts in a row at 9.0s"


def test_the_summary_counts_reclaims_and_groups_the_lines_a_plain_client_missed() -> None:
    back = [["drop", 0.15, "connection lost"], ["welcome", 2.0, "back"], ["join", 2.0]]
    history = with_plain(*lines("c-1"), *back, ["replay", 2.0, 1, 1], *lines("a-2"))
    history.faults = [[0.0, 0.5, "kill -9 node1, restarted"]]
    history.clients_from = 0.6  # the clients' clock started 0.6s into the run
    assert plain_summary(history, "p") == [
        "p: 2 lines seen, 1 drops, 1 reclaims, 0 failed (registered anew), 1 replays (0 cut)",
        "p: 2 owed lines never delivered: a-1 (5-1, sent 0.0s) .. b-1 (6-1, sent 0.1s), "
        "during: kill -9 node1, restarted",
    ]
