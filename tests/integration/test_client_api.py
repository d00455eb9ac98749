"""The Python client API keeps its guarantees across the death of its node (issue 6)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from tests.integration.harness import IRCClient, Node, sentinel
from tests.integration.test_gateway import Recorder, joined
from twistedchat.client.api import ChatClient
from twistedchat.client.discover import discovery_locator
from twistedchat.client.session import Event, Identity, Incoming, Resumed

LINES = 30


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)  # type: ignore[arg-type]


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_client_api_sends_acknowledged_lines_exactly_once_across_a_node_kill(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--flood-rate", "0")
    options = nodes[0].extra
    cluster = options[options.index("--cluster") + 1]
    port = int(options[options.index("--discovery-port") + 1])
    secret = bytes.fromhex((tmp_path / "cluster.secret").read_text().strip())
    locate = discovery_locator(reactor, cluster, secret, [("127.255.255.255", port)])  # type: ignore[arg-type]
    heard: list[str] = []
    resumes: list[Resumed] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Incoming) and event.message.command == "PRIVMSG":
            heard.append(event.message.params[-1])
        elif isinstance(event, Resumed):
            resumes.append(event)

    client = ChatClient(reactor, locate, Identity("robot", "robot", "A bot"), on_event,
                        keepalive=1.0)  # fmt: skip
    assert await client.start() == "robot"
    await client.join("#stream")
    home = next(n for n in nodes if f":{n.irc_port}" in (client.node or ""))
    bob_port = next(n for n in nodes if n is not home).irc_port
    bob_client = joined(IRCClient(bob_port, "bob", caps=["echo-message"]))
    bob = Recorder(bob_client)
    bob.start()
    try:
        for i in range(LINES):
            if i == LINES // 3:
                home.signal(signal.SIGKILL)
                bob_client.send("PRIVMSG #stream :bob-000")
            replies = await client.say("#stream", f"robot-{i:03d}")
            # Its echo, or a bare ACK for a line committed before the failover whose echo
            # was lost with the node (the catch-up delivers that echo instead).
            assert [m.params[-1] for m in replies] in ([f"robot-{i:03d}"], [])
        deadline = time.monotonic() + 30
        while bob.said_by("robot") != [f"robot-{i:03d}" for i in range(LINES)]:
            assert time.monotonic() < deadline, bob.texts
            await sleep(0.1)
        while "bob-000" not in heard:
            assert time.monotonic() < deadline, heard
            await sleep(0.1)
        # No second copy of anything: a later line reaches both of them first (the
        # sentinel waits in a thread, so the reactor goes on serving the client).
        last = await deferToThread(sentinel, bob_client, "#stream",
                                   lambda text: text in heard and text in bob.texts)  # fmt: skip
        assert heard.count("bob-000") == 1 and heard[-1] == last
        assert bob.said_by("robot") == [f"robot-{i:03d}" for i in range(LINES)]
        assert resumes and client.node != f"127.0.0.1:{home.irc_port}"
        assert bob.noise == []
    finally:
        bob.stopping.set()
        client.close()
        bob_client.close()
