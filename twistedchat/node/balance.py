"""When the leader asks a node to shed clients: a pure rule over clients per node.

Only resumable clients (the gateway, ``ChatClient``) can move without being noticed; they
go back to discovery, where the leader assigns the least loaded node. Moving a few at a
time, and not too often, keeps the cluster from sloshing clients back and forth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MOVES_AT_MOST = 10  # clients one request moves
MIN_SPREAD = 3  # a difference of fewer clients than this between nodes is left alone


@dataclass(frozen=True, slots=True)
class Move:
    node: str
    count: int


def plan(loads: Mapping[str, int]) -> Move | None:
    """Ask the busiest node to move half its surplus over the quietest, when the spread is
    at least :data:`MIN_SPREAD` clients and a quarter of the average load."""
    if len(loads) < 2:
        return None
    busiest = max(sorted(loads), key=lambda node: loads[node])
    spread = loads[busiest] - min(loads.values())
    average = sum(loads.values()) / len(loads)
    if spread < max(MIN_SPREAD, math.ceil(average / 4)):
        return None
    return Move(busiest, min(MOVES_AT_MOST, spread // 2))
