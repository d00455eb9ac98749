"""The chaos workload's other path: a plain IRC client behind a ``twistd chatgateway``.

That is how an unmodified IRC client (irssi) gets failover, so the suite drives it too: a
gateway process (never faulted: it runs beside its user) with one socket IRC client that
negotiates echo-message and labeled-response and records the same history as a
:class:`~tests.chaos.workload.Talker`. A line is acknowledged by its echo, or by ``ACK``
when the gateway re-sent it after a failover and the cluster had applied it already (the
echo then comes with the catch-up); any other labelled answer (an error numeric, FAIL) is
a refusal.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Factory, Protocol

from tests.chaos.checker import History
from tests.chaos.workload import CHANNEL, MAX_IN_FLIGHT
from tests.integration.harness import TWISTD, free_ports
from twistedchat.irc.framing import LineFramer
from twistedchat.irc.grammar import parse_line, serialize
from twistedchat.irc.message import Message

CAPS = "echo-message labeled-response message-tags server-time batch"
SESSION_ENDED = "Your session ended"  # the gateway's notice when a session was lost


class GatewayProcess:
    """One ``twistd chatgateway`` on the loopback, pointed at every node (``--join``)."""

    def __init__(self, root: Path, nodes: list[str]) -> None:
        self.port = free_ports(1)[0]
        self.log_path = root / "gateway.log"
        joins = [arg for node in nodes for arg in ("--join", node)]
        self.command = [
            TWISTD, "-n", "--pidfile=", "chatgateway", "--keepalive", "1.0",
            "--listen", f"tcp:{self.port}:interface=127.0.0.1", *joins,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class _Lines(Protocol):
    def __init__(self, talker: GatewayTalker) -> None:
        self.talker = talker
        self.framer = LineFramer()

    def dataReceived(self, data: bytes) -> None:
        for raw in self.framer.feed(data):
            self.talker.received(parse_line(raw))


class GatewayTalker:
    """Sends numbered lines to the channel through the gateway and records what it sees."""

    def __init__(self, name: str, reactor: Any, port: int, history: History,
                 rng: random.Random, start: float) -> None:  # fmt: skip
        self.name = name
        self.reactor = reactor
        self.port = port
        self.history = history
        self.rng = rng
        self.start = start
        self.count = 0
        self.sending = False
        self.in_flight: dict[str, str] = {}  # label -> text
        self._batches: dict[str, str] = {}  # open labelled batch -> its label
        self._joined: Deferred[None] | None = None
        self._next: IDelayedCall | None = None
        self._protocol: _Lines | None = None
        history.delivered[name] = []

    def now(self) -> float:
        return float(self.reactor.seconds()) - self.start

    async def join(self) -> None:
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port)
        self._protocol = await endpoint.connect(Factory.forProtocol(lambda: _Lines(self)))
        self._joined = Deferred()
        self._write(Message("CAP", ("LS", "302")), Message("CAP", ("REQ", CAPS)),
                    Message("CAP", ("END",)), Message("NICK", (self.name,)),
                    Message("USER", (self.name, "0", "*", self.name)),
                    Message("JOIN", (CHANNEL,)))  # fmt: skip
        await self._joined

    def begin(self, period: float) -> None:
        self.sending = True
        self._schedule(period)

    def halt(self) -> None:
        self.sending = False
        if self._next is not None and self._next.active():
            self._next.cancel()

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.loseConnection()

    def _schedule(self, period: float) -> None:
        if self.sending:
            delay = self.rng.uniform(0.5, 1.5) * period
            self._next = self.reactor.callLater(delay, self._send, period)

    def _send(self, period: float) -> None:
        if len(self.in_flight) < MAX_IN_FLIGHT:
            self.count += 1
            text = f"{self.name}-{self.count:05d}"
            label = f"g{self.count}"
            self.history.sent[text] = self.now()
            self.in_flight[label] = text
            self._write(Message("PRIVMSG", (CHANNEL, text), None, {"label": label}))
        self._schedule(period)

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
