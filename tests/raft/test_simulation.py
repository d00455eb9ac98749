"""Seeded whole-cluster simulations: safety after every step, liveness after healing.

``SOAK_SEEDS=5000`` runs more seeds (``make soak``); ``SIM_SEED=n`` with ``-k replay``
replays one seed, and ``SIM_TRACE=1`` prints its events as they happen.
"""

from __future__ import annotations

import os

import pytest

from tests.raft.simulation import Simulation

SEEDS = int(os.environ.get("SOAK_SEEDS", "300"))


def run_seed(seed: int, *, trace: bool = False) -> None:
    simulation = Simulation(seed, trace=trace)
    try:
        simulation.run()
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}\n{simulation.failure_report()}\n"
            f"replay: SIM_SEED={seed} .venv/bin/python -m pytest tests/raft/test_simulation.py"
            " -k replay"
        ) from failure


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulation(seed: int) -> None:
    run_seed(seed)


def test_replay() -> None:
    seed = os.environ.get("SIM_SEED")
    if seed is None:
        pytest.skip("set SIM_SEED to replay one simulation seed")
    run_seed(int(seed), trace=bool(os.environ.get("SIM_TRACE")))
