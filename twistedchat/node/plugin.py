"""The ``chatnode`` twistd plugin: options in, a running node service out."""

from __future__ import annotations

from twisted.application.service import IService, IServiceMaker
from twisted.plugin import IPlugin
from zope.interface import implementer

from twistedchat.node.options import ChatNodeOptions


@implementer(IServiceMaker, IPlugin)
class ChatNodeServiceMaker:
    tapname = "chatnode"
    description = "A Raft-replicated IRC chat node (twistedchat)."
    options = ChatNodeOptions

    def makeService(self, options: ChatNodeOptions) -> IService:
        """The node's service; a file the options name but that cannot be read (``--motd``)
        stops twistd here, before logging starts, with one line on stderr and status 1."""
        from twistedchat.node.service import ChatNodeService
        from twistedchat.startup import StartupError

        try:
            return ChatNodeService.from_options(options)
        except StartupError as error:
            raise SystemExit(f"chatnode: {error}") from None


serviceMaker = ChatNodeServiceMaker()
