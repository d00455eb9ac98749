"""Fixtures that start real ``twistd chatnode`` processes and always stop them by pid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, leader_of, make_cluster, wait_for


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., list[Node]]]:
    started: list[Node] = []
    clients: list[IRCClient] = []

    def start(size: int, *extra: str) -> list[Node]:
        nodes = make_cluster(tmp_path, size, extra)
        for node in nodes:
            node.start()
            started.append(node)
        wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
        return nodes

    yield start
    for client in clients:
        client.close()
    for node in started:
        node.stop()
    failed = [n for n in started if n.process is not None and n.process.returncode not in (0, -9)]
    if failed:
        for node in failed:
            print(
                f"--- {node.node_id} exited {node.process.returncode}:\n{node.log_text()[-3000:]}"
            )  # type: ignore[union-attr]


@pytest.fixture
def single_node(cluster_factory: Callable[..., list[Node]]) -> Node:
    (node,) = cluster_factory(1)
    return node
