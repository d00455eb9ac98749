"""Fixtures that start real ``twistd chatnode`` processes and always stop them by pid.

Every node and gateway a test starts (through these fixtures or by hand with the
harness) is stopped when the test ends and checked: the test errors in teardown, with the
process's log, if one exited by itself, was found dead, did not stop on SIGTERM, or
logged a traceback or a critical line, unless the test ended it (``kill()``, ``stop()``,
``signal(SIGKILL or SIGTERM)``) or declared the exit (``node.expect_exit(1, why)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Gateway, Node, leader_of, make_cluster, wait_for
from tests.integration.harness import watched_processes as _watched_processes


@pytest.fixture(autouse=True)
def watched_processes() -> Iterator[list[Node | Gateway]]:
    """Autouse, so set up before (and torn down after) every other fixture of the test."""
    with _watched_processes() as started:
        yield started


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., list[Node]]]:
    started: list[Node] = []

    def start(size: int, *extra: str) -> list[Node]:
        nodes = make_cluster(tmp_path, size, extra)
        for node in nodes:
            node.start()
            started.append(node)
        wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
        return nodes

    yield start
    for node in started:
        node.stop()  # watched_processes then checks how each of them ended


@pytest.fixture
def single_node(cluster_factory: Callable[..., list[Node]]) -> Node:
    (node,) = cluster_factory(1)
    return node
