"""The chaos workload's other path: a plain IRC client behind a ``twistd chatgateway``.

That is how an unmodified IRC client (irssi) gets failover, so the suite drives it too: a
gateway process (:class:`tests.integration.harness.Gateway`, pointed at every node with
``--join``; never faulted: it runs beside its user) with one socket IRC client that
negotiates echo-message and labeled-response and records the same history as a
:class:`~tests.chaos.workload.Talker`. A line is acknowledged by its echo, or by ``ACK``
when the gateway re-sent it after a failover and the cluster had applied it already (the
echo then comes with the catch-up); any other labelled answer (an error numeric, FAIL) is
a refusal.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol

from tests.chaos.checker import History
from tests.chaos.workload import CHANNEL, Chatter
from twistedchat.wire.framing import LineFramer
from twistedchat.wire.grammar import parse_line, serialize
from twistedchat.wire.message import Message

CAPS = "echo-message labeled-response message-tags server-time batch"
SESSION_ENDED = "Your session ended"  # the gateway's notice when a session was lost


class _Lines(Protocol):
    def __init__(self, talker: GatewayTalker) -> None:
        self.talker = talker
        self.framer = LineFramer()

    def dataReceived(self, data: bytes) -> None:
        for raw in self.framer.feed(data):
            self.talker.received(parse_line(raw))


class GatewayTalker(Chatter):
    """Sends numbered lines to the channel through the gateway and records what it sees."""

    def __init__(self, name: str, reactor: Any, port: int, history: History,
                 rng: random.Random, start: float) -> None:  # fmt: skip
        super().__init__(name, reactor, history, rng, start)
        self.port = port
        self._batches: dict[str, str] = {}  # open labelled batch -> its label
        self._joined: Deferred[None] | None = None
        self._protocol: _Lines | None = None

    async def join(self) -> None:
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port)
        self._protocol = await endpoint.connect(Factory.forProtocol(lambda: _Lines(self)))
        self._joined = Deferred()
        self._write(Message("CAP", ("LS", "302")), Message("CAP", ("REQ", CAPS)),
                    Message("CAP", ("END",)), Message("NICK", (self.name,)),
                    Message("USER", (self.name, "0", "*", self.name)),
                    Message("JOIN", (CHANNEL,)))  # fmt: skip
        await self._joined

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.loseConnection()

    def _submit(self, text: str) -> str:
        label = f"g{self.count}"
        self._write(Message("PRIVMSG", (CHANNEL, text), None, {"label": label}))
        return label

    def received(self, message: Message) -> None:
        label = message.tags.get("label") or self._batches.get(message.tags.get("batch", ""))
        if message.command == "BATCH" and message.params:
            ref = message.params[0]
            if ref.startswith("+") and label is not None:
                self._batches[ref[1:]] = label
            elif ref.startswith("-"):
                self._batches.pop(ref[1:], None)
            return
        if message.command == "PING":
            self._write(Message("PONG", message.params[:1]))
        elif message.command == "JOIN" and self._joined is not None and not self._joined.called:
            self._joined.callback(None)
        elif message.command == "PRIVMSG" and message.params[:1] == (CHANNEL,):
            self._delivered(message)
        elif message.command == "NOTICE" and SESSION_ENDED in message.params[-1]:
            self.history.lost.append([self.name, self.now()])
        elif message.command == "ACK" and label in self.in_flight:  # applied before: re-sent
            self.history.acked[self.in_flight.pop(label)] = self.now()
        elif label in self.in_flight:
            why = " ".join((message.command, *message.params[1:]))
            self.history.refused.append([self.name, self.in_flight.pop(label), why[:120]])

    def _delivered(self, message: Message) -> None:
        text = message.params[-1]
        self.history.delivered[self.name].append([text, message.tags.get("msgid", "")])
        mine = [label for label, sent in self.in_flight.items() if sent == text]
        for label in mine:  # our echo: acknowledged
            del self.in_flight[label]
            self.history.acked[text] = self.now()

    def _write(self, *messages: Message) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            for message in messages:
                self._protocol.transport.write(serialize(message, None))
