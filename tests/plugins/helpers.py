"""A chat state with plugins, driven like ``tests.chat.helpers.Chat``."""

from __future__ import annotations

from tests.chat.helpers import Chat
from twistedchat.chat.command import TICK, Command, Delivery
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.irc.message import Message
from twistedchat.plugins import PluginHost, load


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
        self.delivered: dict[int, list[Delivery]] = {}  # log index -> what it delivered

    def apply(self, command: Command) -> list[Delivery]:
        deliveries = super().apply(command)
        self.delivered[self.index] = deliveries
        return deliveries

    def tick(self, seconds: float = 0) -> list[Delivery]:
        """Let ``seconds`` of log time pass, then apply a leader's ``@TICK``."""
        self.time += int(seconds * 1000)
        return self.apply(self.command(f"leader/{self.index}/node", Message(TICK, ()), "n1"))
