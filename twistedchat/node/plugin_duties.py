"""What a node does for plugins once entries are applied (see ``twistedchat.hookspecs``).

Every node shows each applied user command to its per-node hooks (a log file, say); the
leader also shows it to the leader hooks, whose answers (``@PLUGIN-SAY``) go through the
log so that every node delivers them, and appends ``@TICK`` entries while a plugin has
something timed to do, so time-driven actions happen in log order on every node.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime

from twistedchat.chat.command import PLUGIN_SAY, TICK
from twistedchat.chat.model import World
from twistedchat.chat.plugin_api import ChatEvent
from twistedchat.plugins import PluginHost
from twistedchat.wire.message import Message

#: Seconds between ``@TICK`` entries while a plugin wants them.
TICK_INTERVAL = 2.0


class PluginDuties:
    """Runs the per-node and leader hooks; ``propose`` appends a node entry to the log."""

    def __init__(
        self,
        plugins: PluginHost,
        clock: IReactorTime,
        propose: Callable[[Message], None],
        is_leader: Callable[[], bool],
    ):
        self.plugins = plugins
        self.clock = clock
        self._propose = propose
        self._is_leader = is_leader
        self._last_tick = 0.0

    def applied(self, event: ChatEvent) -> None:
        """An entry applied ``event``: per-node hooks here, leader hooks on the leader."""
        self.plugins.observe(event)
        if self._is_leader():
            self.plugins.leader_observe(event, self._say)

    def tick(self, world: World) -> None:
        """On the leader, append ``@TICK`` while a plugin has something timed."""
        if not self._is_leader():
            return
        now = self.clock.seconds()
        if now - self._last_tick >= TICK_INTERVAL and self.plugins.wants_tick(world):
            self._last_tick = now
            self._propose(Message(TICK, ()))

    def _say(self, plugin: str, target: str, text: str) -> None:
        """A leader hook's answer goes through the log, so every node delivers it."""
        self._propose(Message(PLUGIN_SAY, (plugin, target, text)))
