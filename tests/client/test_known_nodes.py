"""What a client without the secret believes of the nodes, and where it goes."""

from __future__ import annotations

import pytest

from twistedchat.client.known_nodes import KnownNodes, first_usable
from twistedchat.discovery.public import Answer, NodeEntry, Refused

A, B, C = "127.0.0.1:6001", "127.0.0.1:6002", "127.0.0.1:6003"
TA, TB = "127.0.0.1:7001", "127.0.0.1:7002"


def entry(plain: str | None, tls: str | None = None, open_: bool = True) -> NodeEntry:
    return NodeEntry(plain, tls, open_, "follower")


NODES = (entry(A, TA), entry(B, TB), entry(C, None, open_=False))


def test_the_leaders_assignment_wins() -> None:
    known = KnownNodes([A], tls=False)
    answer = known.check(A, Answer(NODES, "leader", 4, leader=0, assigned=1))
    known.learn(A, answer)
    assert known.assigned(answer) == B
    assert known.assigned(answer, excluded={B}) is None
    assert known.leader == A and known.to_ask() == [A, B, C]


def test_a_follower_points_at_its_leader_and_falls_back_to_itself() -> None:
    known = KnownNodes([B], tls=False)
    answer = Answer(NODES, "follower", 4, leader=0)
    known.learn(B, answer)
    assert known.assigned(answer) is None
    assert known.leader_to_ask(B, answer, frozenset()) == A
    assert known.leader_to_ask(B, answer, {A}) is None
    assert known.fallback(B, answer, frozenset()) == B
    assert known.fallback(B, answer, {B}) == A
    assert known.fallback(B, answer, {A, B}) is None  # C is full


def test_a_deposed_leader_is_not_followed() -> None:
    known = KnownNodes([A, B], tls=False)
    known.learn(B, Answer(NODES, "leader", 7, leader=1, assigned=0))
    old = Answer(NODES, "leader", 5, leader=0, assigned=1)  # cut off, still thinks it leads
    known.learn(A, old)
    assert known.assigned(old) is None and known.leader == B and known.term == 7


def test_tls_clients_use_tls_addresses_only() -> None:
    known = KnownNodes([TA], tls=True)
    answer = Answer(NODES, "leader", 1, leader=0, assigned=2)
    known.learn(TA, answer)
    assert known.learned == [TA, TB]
    assert known.assigned(answer) is None  # C has no TLS endpoint
    assert known.fallback(TA, answer, frozenset()) == TA


def test_implausible_answers_are_refused_before_anything_is_believed() -> None:
    known = KnownNodes([A], tls=False)
    for nodes in [(entry(A), entry("10.0.0.1:6667")), (entry(A), entry(A)), (entry("0.0.0.0:1"),)]:
        with pytest.raises(Refused) as refused:
            known.check(A, Answer(nodes, "follower", 1))
        assert refused.value.reason == "implausible"
    assert known.learned == [] and known.leader is None


def test_whom_to_ask() -> None:
    known = KnownNodes([A, A, C], tls=False)
    assert known.to_ask() == [A, C]
    known.learn(A, Answer((entry(B),), "follower", 2, leader=0))
    assert known.to_ask() == [B, A, C]
    assert known.to_ask({B}) == [A, C]
    assert first_usable([A, B], {A}) == B and first_usable([A], {A}) == A
    assert first_usable([], set()) is None
