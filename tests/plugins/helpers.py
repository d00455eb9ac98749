"""A chat state with plugins, driven like ``tests.chat.helpers.Chat``."""

from __future__ import annotations

from tests.chat.helpers import Chat
from twistedchat.chat.command import TICK, Command
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import Applied, ChatState
from twistedchat.plugins import PluginHost, load
from twistedchat.wire.message import Message


def host_with(*names: str, data_dir: str = ".", **plugins: object) -> PluginHost:
    """Installed plugins by entry-point name, then test plugins by keyword name."""
    host = PluginHost(data_dir)
    for name in names:
        host.register(load(name), name)
    for name, plugin in plugins.items():
        host.register(plugin, name)
    return host


class PluginChat(Chat):
    def __init__(self, host: PluginHost):
        super().__init__()
        self.host = host
        self.state = ChatState(ChatLimits(), host)
        self.delivered: dict[int, Applied] = {}  # log index -> what applying it did

    def apply(self, command: Command) -> list[Delivery]:
        deliveries = super().apply(command)
        assert self.applied is not None
        self.delivered[self.index] = self.applied
        return deliveries

    def tick(self, seconds: float = 0) -> list[Delivery]:
        """Let ``seconds`` of log time pass, then apply a leader's ``@TICK``."""
        self.time += int(seconds * 1000)
        return self.apply(self.command(f"leader/{self.index}/node", Message(TICK, ()), "n1"))
