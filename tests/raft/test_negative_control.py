"""Negative controls: the simulation's safety checker catches a deliberately broken core.

A checker that never fails proves nothing. Each broken core (tests/raft/broken.py) runs
through the same seeded simulation as the real one; within a bounded number of seeds the
checker itself (a :class:`SimulationFailure`, not some other assertion) must name the
property the bug breaks.
"""

from __future__ import annotations

import pytest

from tests.raft.broken import AcksBeforeDurable, CommitsWithoutMajority, GrantsEveryVote
from tests.raft.simulation import Simulation, SimulationFailure
from twistedchat.raft.core import RaftNode

SEEDS = 20


def verdicts(core: type[RaftNode]) -> dict[int, str]:
    """Seed -> the property the checker reported broken, for each seed it caught."""
    caught = {}
    for seed in range(SEEDS):
        simulation = Simulation(seed, core=core)
        try:
            simulation.run()
        except SimulationFailure as failure:
            caught[seed] = str(failure).split(":", 1)[0]
    return caught


@pytest.mark.parametrize(
    ("core", "properties", "at_least"),
    [
        # Two leaders of one term, or a leader elected without entries a majority holds
        # (and then, at times, two different entries committed at one index).
        (
            GrantsEveryVote,
            {"Election Safety", "Leader Completeness", "State Machine Safety"},
            SEEDS // 4,
        ),
        # Entries "committed" on the leader alone are overwritten by the next leader.
        (CommitsWithoutMajority, {"State Machine Safety", "Leader Completeness"}, SEEDS // 2),
        # Acknowledged entries lost in a crash while their writes were pending: only the
        # seeds with asynchronous writes and a crash at the wrong moment catch it.
        (AcksBeforeDurable, {"Leader Completeness", "State Machine Safety"}, SEEDS // 10),
    ],
    ids=["grants-every-vote", "commits-without-majority", "acks-before-durable"],
)
def test_the_checker_catches_a_broken_core(
    core: type[RaftNode], properties: set[str], at_least: int
) -> None:
    # A broken core may also stall (a leader waiting for entries a follower lost): that
    # is reported too, but only a named safety property counts as caught.
    caught = {
        seed: verdict
        for seed, verdict in verdicts(core).items()
        if not verdict.startswith("probe entry not applied")
    }
    assert len(caught) >= at_least, f"{core.__name__} caught in only {sorted(caught)}"
    assert set(caught.values()) <= properties, caught


def test_the_real_core_passes_the_same_seeds() -> None:
    assert verdicts(RaftNode) == {}
