"""Client discovery against a real running node."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from tests.integration.harness import Node, new_node, wait_for
from twistedchat.client.discover import NoNodeAnswered, choose, discover
from twistedchat.discovery.wire import Offer


def test_choose_prefers_the_leaders_assignment() -> None:
    own = Offer("c", "n", "a", "127.0.0.1:1", False)
    assigned = Offer("c", "n", "b", "127.0.0.1:2", True)
    assert choose([own, assigned]) is assigned
    assert choose([own]) is own
    with pytest.raises(NoNodeAnswered):
        choose([])


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_discover_finds_a_running_node(tmp_path: Path) -> None:
    node: Node = new_node(tmp_path, "solo")
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        options = node.extra
        cluster = options[options.index("--cluster") + 1]
        port = int(options[options.index("--discovery-port") + 1])
        secret = bytes.fromhex((tmp_path / "cluster.secret").read_text().strip())
        offer = await discover(reactor, cluster, secret, [("127.255.255.255", port)])
        assert offer.irc == f"127.0.0.1:{node.irc_port}" and offer.assigned
        with pytest.raises(NoNodeAnswered):
            await discover(reactor, cluster, b"w" * 32, [("127.255.255.255", port)])
    finally:
        node.stop()
