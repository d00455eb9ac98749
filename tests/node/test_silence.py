"""The leader's down and up reports for replay on reclaim (node/silence.py)."""

from __future__ import annotations

from twistedchat.node.silence import Report, SilenceWatch


def test_a_silent_member_is_reported_down_once_with_what_it_handed_out() -> None:
    watch = SilenceWatch(silence=1.0, again=2.0)
    down: dict[str, bool] = {"b": False, "c": False}
    heard = {"b": 10.0, "c": 9.5}
    commits = {"b": 40, "c": 37}.__getitem__
    assert watch.reports(["b", "c"], 10.2, heard, commits, down.get) == []
    assert watch.reports(["b", "c"], 10.6, heard, commits, down.get) == [Report("c", True, 37)]
    # not in the log yet: not reported again until ``again`` passed
    assert watch.reports(["b", "c"], 11.1, heard, commits, down.get) == [Report("b", True, 40)]
    assert watch.reports(["b", "c"], 12.0, heard, commits, down.get) == []
    assert watch.reports(["b", "c"], 12.7, heard, commits, down.get) == [Report("c", True, 37)]


def test_a_member_heard_again_is_reported_up_and_a_logged_mark_is_not_repeated() -> None:
    watch = SilenceWatch(silence=1.0)
    down = {"b": True}
    assert watch.reports(["b"], 5.0, {"b": 4.9}, lambda node: 0, down.get) == [Report("b", False)]
    down["b"] = False  # the log took it
    assert watch.reports(["b"], 5.1, {"b": 5.0}, lambda node: 0, down.get) == []
    down["b"] = True
    assert watch.reports(["b"], 9.0, {"b": 1.0}, lambda node: 0, down.get) == []


def test_nodes_the_log_does_not_know_are_never_reported() -> None:
    watch = SilenceWatch(silence=1.0)
    assert watch.reports(["new"], 50.0, {}, lambda node: 0, lambda node: None) == []
    assert watch.reports(["new"], 50.0, {"new": 0.0}, lambda node: 0, lambda node: None) == []
