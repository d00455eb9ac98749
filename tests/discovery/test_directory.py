"""The directory of recently heard nodes."""

from __future__ import annotations

from dataclasses import replace

from tests.discovery.test_wire import ANNOUNCEMENT
from twistedchat.discovery.directory import Directory

SERVING = frozenset({"leader", "follower"})


def node(name: str, **changes: object) -> object:
    return replace(ANNOUNCEMENT, node_id=name, **changes)  # type: ignore[arg-type]


def test_nodes_expire() -> None:
    directory = Directory(expiry=5)
    directory.heard(node("a"), 100.0)  # type: ignore[arg-type]
    directory.heard(node("b"), 103.0)  # type: ignore[arg-type]
    assert {a.node_id for a in directory.alive(104.0)} == {"a", "b"}
    assert {a.node_id for a in directory.alive(106.0)} == {"b"}
    assert directory.last_heard("a") == 100.0


def test_least_loaded_skips_full_and_non_serving_nodes() -> None:
    directory = Directory(expiry=5)
    directory.heard(node("a", clients=50, capacity=100, role="follower"), 0)  # type: ignore[arg-type]
    directory.heard(node("b", clients=10, capacity=10, role="follower"), 0)  # type: ignore[arg-type]
    directory.heard(node("c", clients=1, capacity=100, role="new"), 0)  # type: ignore[arg-type]
    directory.heard(node("d", clients=30, capacity=100, role="leader"), 0)  # type: ignore[arg-type]
    chosen = directory.least_loaded(1, SERVING)
    assert chosen is not None and chosen.node_id == "d"


def test_leader_is_the_highest_term_claim() -> None:
    directory = Directory(expiry=5)
    directory.heard(node("a", role="leader", term=3), 0)  # type: ignore[arg-type]
    directory.heard(node("b", role="leader", term=4), 0)  # type: ignore[arg-type]
    leader = directory.leader(1)
    assert leader is not None and leader.node_id == "b"


def test_directory_is_bounded() -> None:
    directory = Directory(expiry=5, max_nodes=10)
    for i in range(100):
        directory.heard(node(f"n{i}"), float(i))  # type: ignore[arg-type]
    assert len(directory.alive(99)) <= 10
    assert directory.get("n99") is not None and directory.get("n0") is None
