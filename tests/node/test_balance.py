"""Rebalancing: the leader's rule, and a node moving clients when the log asks it to."""

from __future__ import annotations

from tests.irc.test_resume import registered_with_token
from tests.memorylog import Server
from twistedchat.node.balance import MOVES_AT_MOST, Move, plan


def test_the_busiest_node_sheds_half_its_surplus() -> None:
    assert plan({"a": 10, "b": 2, "c": 4}) == Move("a", 4)
    assert plan({"a": 100, "b": 0}) == Move("a", MOVES_AT_MOST)


def test_small_or_relative_small_spreads_are_left_alone() -> None:
    assert plan({"a": 3, "b": 1}) is None  # fewer than 3 clients apart
    assert plan({"a": 60, "b": 50, "c": 52}) is None  # under a quarter of the average
    assert plan({"a": 7}) is None


def test_a_move_entry_asks_that_many_resumable_clients_of_that_node_to_move() -> None:
    server = Server()
    movers = [registered_with_token(server, f"r{i}")[0] for i in range(3)]
    plain = server.register("plain")
    assert server.hub.clients_on("n1") == 4
    server.hub.request_moves("n1", 2)
    server.clock.advance(0)
    asked = [c for c in movers if c.has("RESUME MOVE :Rebalancing")]
    assert len(asked) == 2 and not plain.has("RESUME MOVE")
    server.hub.request_moves("elsewhere", 5)
    server.clock.advance(0)
    assert sum(c.has("RESUME MOVE") for c in movers) == 2
