"""The chaos checker finds each kind of violation, and passes a correct history."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.checker import History, check, unavailability


def correct() -> History:
    history = History(seed=1, sent={"a-1": 0.0, "b-1": 0.1, "a-2": 3.0})
    history.acked = {"a-1": 0.2, "b-1": 0.3, "a-2": 3.2}
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
