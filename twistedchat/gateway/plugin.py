"""The ``chatgateway`` twistd plugin: options in, a listening gateway out."""

from __future__ import annotations

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, IServiceMaker
from twisted.internet import endpoints, reactor
from twisted.internet.protocol import Factory
from twisted.plugin import IPlugin
from twisted.python.failure import Failure
from zope.interface import implementer

from twistedchat.gateway.options import ChatGatewayOptions
from twistedchat.startup import StartupError, abort_start, step


class ListeningService(StreamServerEndpointService):
    """Listens on ``description`` before the reactor runs, as ``strports.service`` does, but
    a port that cannot be had ends twistd with one line and status 1, not a traceback."""

    def __init__(self, description: str, factory: Factory) -> None:
        super().__init__(endpoints.serverFromString(reactor, description), factory)
        self.description = description
        self._raiseSynchronously = True  # listen errors surface here, not in a Deferred

    def privilegedStartService(self) -> None:
        try:
            with step(f"cannot listen on IRC {self.description}"):
                super().privilegedStartService()
        except StartupError:
            abort_start("chatgateway", Failure())


@implementer(IServiceMaker, IPlugin)
class ChatGatewayServiceMaker:
    tapname = "chatgateway"
    description = "A local IRC gateway with seamless failover to a twistedchat cluster."
    options = ChatGatewayOptions

    def makeService(self, options: ChatGatewayOptions) -> IService:
        from twistedchat.client.api import Locator
        from twistedchat.client.discover import discovery_locator
        from twistedchat.client.public import public_locator
        from twistedchat.gateway.protocol import GatewayFactory

        locate: Locator
        if options["join"]:  # no secret: ask the nodes' IRC ports (the public directory)
            locate = public_locator(reactor, options["join"], options["trust"])
        else:
            targets = [(options["broadcast"], options["discovery-port"])]
            locate = discovery_locator(reactor, options["cluster"], options["secret"], targets)  # type: ignore[arg-type]
        factory = GatewayFactory(
            reactor,
            locate,
            keepalive=options["keepalive"],
            tls_trust=options["trust"],
            server_password=options["password"],
        )
        return ListeningService(options["listen"], factory)


serviceMaker = ChatGatewayServiceMaker()
