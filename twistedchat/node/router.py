"""The sessions connected to this node, and how what an applied entry sends reaches them.

Every node applies the same entries and gets the same records (:mod:`twistedchat.chat.
delivery`); the router sends each to the sessions connected here and skips the rest, so
a node's work per message grows with its own recipients. A broadcast is serialised once
per kind of client among them (:class:`~twistedchat.irc.rendering.Rendering`) and held by
each connection until :meth:`Router.flush`, so a client gets one write per batch of
entries however many lines the batch sent it.

A user with several connections here (multiclient) is served by a :class:`Clients`
group under the user's session: the broadcast loop stays one lookup per recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from twistedchat.chat.delivery import Delivery, Sending
from twistedchat.irc.backend import SessionSink
from twistedchat.irc.rendering import Rendering
from twistedchat.wire.message import Message


class Receiver(Protocol):
    """What the router hands a session's records to: its connection, or a group."""

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool: ...

    def flush(self) -> None: ...


class Clients:
    """The connections here of a user with several (multiclient), as one receiver."""

    def __init__(self, members: list[Receiver]) -> None:
        self.members = members

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool:
        held = False
        for member in self.members:
            held = member.deliver(rendering, echo) or held
        return held

    def flush(self) -> None:
        for member in self.members:
            member.flush()


class Router:
    """Hands applied records to the local connections of the sessions they name."""

    def __init__(self, server_name: str):
        self.server_name = server_name
        #: Who receives what is sent to each session with a connection here: that
        #: connection, or a :class:`Clients` group (a user connected several times).
        self.sinks: dict[str, Receiver] = {}
        #: The connections here, by their own session ids.
        self.connections: dict[str, SessionSink] = {}
        self._joined: dict[str, str] = {}  # a further client's connection -> its user
        self._members: dict[str, list[str]] = {}  # session -> connections receiving for it
        self._holding: list[Receiver] = []  # receivers with output to flush
        #: Records handed to a local receiver since start (for /metrics): one increment
        #: per recipient, the only thing the fan-out does for metrics.
        self.delivered = 0

    def attach(self, session: str, sink: SessionSink) -> None:
        """``sink`` is the connection of ``session`` (and receives what it is sent)."""
        self.connections[session] = sink
        self._add(session, session)

    def join(self, user: str, connection: str) -> None:
        """The connection ``connection`` here is a further client of ``user``: it
        receives what ``user`` is sent too."""
        self._joined[connection] = user
        self._add(user, connection)

    def detach(self, session: str) -> SessionSink | None:
        """Forget the connection of ``session``; returns it (None if it had none)."""
        sink = self.connections.get(session)
        if sink is None:
            return None
        self._remove(session, session)
        user = self._joined.pop(session, None)
        if user is not None:
            self._remove(user, session)
        del self.connections[session]
        return sink

    def sink(self, session: str) -> SessionSink | None:
        """The connection whose own session is ``session``."""
        return self.connections.get(session)

    def others(self, user: str, connection: str) -> list[Receiver]:
        """The connections here that receive what ``user`` is sent, but ``connection``."""
        members = self._members.get(user, ())
        return [self.connections[member] for member in members if member != connection]

    def _add(self, session: str, connection: str) -> None:
        members = self._members.setdefault(session, [])
        if connection not in members:
            members.append(connection)
        self._receive(session, members)

    def _remove(self, session: str, connection: str) -> None:
        members = self._members.get(session, [])
        if connection in members:
            members.remove(connection)
        self._receive(session, members)

    def _receive(self, session: str, members: list[str]) -> None:
        """Who receives for ``session``: its one connection here, or a group."""
        if not members:
            self._members.pop(session, None)
            self.sinks.pop(session, None)
        elif len(members) == 1:
            self.sinks[session] = self.connections[members[0]]
        else:
            self.sinks[session] = Clients([self.connections[m] for m in members])

    def hand_out(
        self, sendings: Iterable[Sending], origin: str, user: str | None = None
    ) -> tuple[list[Delivery], list[Delivery]]:
        """Send ``sendings`` to their local recipients, except what goes to ``origin``
        (the session whose command the entry was) or to ``user`` (the user it is a
        further client of, multiclient): returned as (the answer to its command, what
        it gets after the answer), for the node to send in that order."""
        replies: list[Delivery] = []
        after: list[Delivery] = []
        sinks, holding, server = self.sinks, self._holding, self.server_name
        origins = (origin, user or origin)
        handed = 0
        for sending in sendings:
            if isinstance(sending, Delivery):
                if sending.session not in origins:
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
                if session in origins:
                    replies.append(Delivery(session, message, needs=needs))
                    continue
                if rendering is None:
                    rendering = Rendering(message, server, needs)
                handed += 1
                if sink.deliver(rendering):
                    holding.append(sink)
        self.delivered += handed
        return replies, after

    def share(self, receivers: list[Receiver], delivery: Delivery) -> None:
        """Send one record to ``receivers`` (other connections of its session's user)."""
        rendering = Rendering(delivery.message, self.server_name, delivery.needs)
        self.delivered += len(receivers)
        for receiver in receivers:
            if receiver.deliver(rendering, delivery.echo):
                self._holding.append(receiver)

    def tell(self, connection: str, message: Message) -> None:
        """Send ``message`` to the connection ``connection`` only (not to the other
        connections of its user): a notice about that connection itself."""
        sink = self.connections.get(connection)
        if sink is not None:
            self.share([sink], Delivery(connection, message))

    def deliver(self, delivery: Delivery) -> None:
        """Send one record to its session, if it is connected here."""
        sink = self.sinks.get(delivery.session)
        if sink is None:
            return
        self.delivered += 1
        rendering = Rendering(delivery.message, self.server_name, delivery.needs)
        if sink.deliver(rendering, delivery.echo):
            self._holding.append(sink)

    def flush(self) -> None:
        """Write out what the connections held since the last flush."""
        holding, self._holding = self._holding, []
        for sink in holding:
            sink.flush()
