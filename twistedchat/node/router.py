"""The sessions connected to this node, and how what an applied entry sends reaches them.

Every node applies the same entries and gets the same records (:mod:`twistedchat.chat.
delivery`); the router sends each to the sessions connected here and skips the rest, so
a node's work per message grows with its own recipients. A broadcast is serialised once
per kind of client among them (:class:`~twistedchat.irc.rendering.Rendering`) and held by
each connection until :meth:`Router.flush`, so a client gets one write per batch of
entries however many lines the batch sent it.
"""

from __future__ import annotations

from collections.abc import Iterable

from twistedchat.chat.delivery import Delivery, Sending
from twistedchat.irc.backend import SessionSink
from twistedchat.irc.rendering import Rendering


class Router:
    """Hands applied records to the local connections of the sessions they name."""

    def __init__(self, server_name: str):
        self.server_name = server_name
        #: The sessions with a connection here, and that connection.
        self.sinks: dict[str, SessionSink] = {}
        self._holding: list[SessionSink] = []  # connections with output to flush

    def attach(self, session: str, sink: SessionSink) -> None:
        self.sinks[session] = sink

    def detach(self, session: str) -> SessionSink | None:
        """Forget the connection of ``session``; returns it (None if it had none)."""
        return self.sinks.pop(session, None)

    def sink(self, session: str) -> SessionSink | None:
        return self.sinks.get(session)

    def hand_out(
        self, sendings: Iterable[Sending], origin: str
    ) -> tuple[list[Delivery], list[Delivery]]:
        """Send ``sendings`` to their local recipients, except what goes to ``origin``
        (the session whose command the entry was): returned as (the answer to its
        command, what it gets after the answer), for the node to send in that order."""
        replies: list[Delivery] = []
        after: list[Delivery] = []
        sinks, holding, server = self.sinks, self._holding, self.server_name
        for sending in sendings:
            if isinstance(sending, Delivery):
                if sending.session != origin:
                    self.deliver(sending)
                elif sending.separate:
                    after.append(sending)
                else:
                    replies.append(sending)
                continue
            message, skip, needs = sending.message, sending.skip, sending.needs
            rendering: Rendering | None = None
            for session in sending.audience:
                sink = sinks.get(session)
                if sink is None or session == skip:
                    continue
                if session == origin:
                    replies.append(Delivery(session, message, needs=needs))
                    continue
                if rendering is None:
                    rendering = Rendering(message, server, needs)
                if sink.deliver(rendering):
                    holding.append(sink)
        return replies, after

    def deliver(self, delivery: Delivery) -> None:
        """Send one record to its session, if it is connected here."""
        sink = self.sinks.get(delivery.session)
        rendering = Rendering(delivery.message, self.server_name, delivery.needs)
        if sink is not None and sink.deliver(rendering, delivery.echo):
            self._holding.append(sink)

    def flush(self) -> None:
        """Write out what the connections held since the last flush."""
        holding, self._holding = self._holding, []
        for sink in holding:
            sink.flush()
