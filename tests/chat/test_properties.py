"""Properties over generated workloads: snapshot/restore changes nothing, and output never
depends on the process (hash seed) that computes it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chat.workload import LIMITS, QUERIES, Driver, Step, random_steps
from twistedchat.chat.delivery import Broadcast
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

ROOT = Path(__file__).resolve().parents[2]

steps = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]),
        st.integers(0, 5),
        st.integers(0, 18),
        st.integers(0, 63),
        st.integers(0, 63),
        st.integers(0, 63),
    ),
    max_size=150,
)


def _queries(state: ChatState, sessions: list[str]) -> list[list[Message]]:
    return [
        state.query(session, Message(line.split()[0], tuple(line.split()[1:])), "srv")
        for session in sessions
        for line in QUERIES
    ]


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 150))
def test_restore_of_a_snapshot_behaves_like_the_original(plan: list[Step], cut: int) -> None:
    driver = Driver()
    commands = list(driver.commands(plan))
    sessions = driver.sessions()
    cut = min(cut, len(commands))
    original = ChatState(LIMITS)
    for index, command in enumerate(commands[:cut], 1):
        original.apply(index, command)
    data = original.snapshot()
    restored = ChatState.restore(data, LIMITS)
    assert restored.snapshot() == data
    assert _queries(restored, sessions) == _queries(original, sessions)
    for index, command in enumerate(commands[cut:], cut + 1):
        assert restored.apply(index, command) == original.apply(index, command)
        assert restored.last_applied_seq(command.session) == original.last_applied_seq(
            command.session
        )
    assert restored.snapshot() == original.snapshot()
    assert _queries(restored, sessions) == _queries(original, sessions)


@settings(max_examples=50, deadline=None)
@given(steps)
def test_two_states_fed_the_same_log_deliver_the_same(plan: list[Step]) -> None:
    commands = list(Driver().commands(plan))
    a, b = ChatState(LIMITS), ChatState(LIMITS)
    for index, command in enumerate(commands, 1):
        assert a.apply(index, command) == b.apply(index, command)
    assert a.snapshot() == b.snapshot()


def test_output_does_not_depend_on_the_hash_seed() -> None:
    """Nodes are separate processes with different string hash seeds: iterating a set
    anywhere in apply or query would show up here as a different digest."""
    script = "from tests.chat.workload import digest; print(digest(7, 3000))"
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_a_long_workload_sends_broadcasts_and_two_states_agree_on_every_record() -> None:
    """The generated workloads exercise audiences (the records nodes intersect with their
    own sessions), not only single deliveries, and two replicas agree on each of them."""
    commands = list(Driver().commands(random_steps(random.Random(18), 6000)))
    a, b = ChatState(LIMITS), ChatState(LIMITS)
    broadcasts = 0
    for index, command in enumerate(commands, 1):
        applied = a.apply(index, command)
        assert applied == b.apply(index, command)
        broadcasts += sum(
            isinstance(d, Broadcast) and len(d.audience) > 1 for d in applied.deliveries
        )
    assert broadcasts > 40  # 78 for this seed; many steps are private, or fail
