"""Plugins on a running hub: ticks from the leader, async per-node hooks, leader answers."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from tests.memorylog import Server
from tests.plugins.helpers import host_with
from twistedchat.chat.command import PLUGIN_SAY, TICK, Command
from twistedchat.chat.plugin_api import ChatEvent
from twistedchat.hookspecs import hookimpl


def commands(server: Server) -> list[str]:
    return [Command.decode(data, 0).message.command for data in server.log.entries]


def test_the_leader_ticks_only_while_a_reminder_is_pending() -> None:
    server = Server(plugins=host_with("bots"))
    alice = server.register("alice")
    alice.send("JOIN #a")
    server.clock.advance(10)
    assert TICK not in commands(server)  # an idle cluster's log stays idle
    alice.send("PRIVMSG #a :!remind 3s stretch")
    for _ in range(6):
        server.clock.advance(1)
    assert alice.has(":bot!bot@services. PRIVMSG #a :alice: reminder: stretch")
    ticks = commands(server).count(TICK)
    server.clock.advance(20)
    assert 1 <= ticks == commands(server).count(TICK)


class Slow:
    """A per-node hook doing I/O: returns a Deferred the node does not wait on."""

    def __init__(self) -> None:
        self.waiting: list[Deferred[None]] = []

    @hookimpl
    def chat_observe(self, event: ChatEvent) -> Deferred[None]:
        done: Deferred[None] = Deferred()
        self.waiting.append(done)
        return done


class Oracle:
    """A leader hook that asks the outside world once for the whole cluster."""

    @hookimpl
    async def chat_leader_observe(self, event: ChatEvent) -> list[tuple[str, str]]:
        if event.text == "oracle?":
            return [(event.target or "", "the answer is 42")]
        return []


def test_async_hooks_run_on_without_blocking_and_failures_are_contained() -> None:
    slow = Slow()
    server = Server(plugins=host_with(slow=slow, oracle=Oracle()))
    alice = server.register("alice")
    alice.send("JOIN #a")
    alice.send("PRIVMSG #a :oracle?")
    server.clock.advance(0)
    assert alice.has(":oracle!oracle@services. PRIVMSG #a :the answer is 42")
    assert PLUGIN_SAY in commands(server)
    duties = server.hub.plugin_duties
    assert duties is not None
    host = duties.plugins
    assert len(host.in_flight) == len(slow.waiting) > 0
    slow.waiting[0].errback(RuntimeError("the disk is full"))  # logged, not raised
    for waiting in slow.waiting[1:]:
        waiting.callback(None)
    assert host.in_flight == set()
    alice.send("PRIVMSG #a :still chatting")
    assert Command.decode(server.log.entries[-1], 0).message.params == ("#a", "still chatting")
