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
        from twistedchat.node.service import ChatNodeService

        return ChatNodeService.from_options(options)


serviceMaker = ChatNodeServiceMaker()
