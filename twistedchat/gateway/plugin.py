"""The ``chatgateway`` twistd plugin: options in, a listening gateway out."""

from __future__ import annotations

from twisted.application import strports
from twisted.application.service import IService, IServiceMaker
from twisted.internet import reactor
from twisted.plugin import IPlugin
from zope.interface import implementer

from twistedchat.gateway.options import ChatGatewayOptions


@implementer(IServiceMaker, IPlugin)
class ChatGatewayServiceMaker:
    tapname = "chatgateway"
    description = "A local IRC gateway with seamless failover to a twistedchat cluster."
    options = ChatGatewayOptions

    def makeService(self, options: ChatGatewayOptions) -> IService:
        from twistedchat.client.api import Locator, fixed_nodes
        from twistedchat.client.discover import discovery_locator
        from twistedchat.gateway.protocol import GatewayFactory

        locate: Locator
        if options["join"]:
            locate = fixed_nodes(options["join"])
        else:
            targets = [(options["broadcast"], options["discovery-port"])]
            locate = discovery_locator(reactor, options["cluster"], options["secret"], targets)  # type: ignore[arg-type]
        factory = GatewayFactory(
            reactor, locate, keepalive=options["keepalive"], tls_trust=options["trust"]
        )
        return strports.service(options["listen"], factory)


serviceMaker = ChatGatewayServiceMaker()
