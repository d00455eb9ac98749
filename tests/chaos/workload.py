"""The chaos workload: failover-proof clients chatting in one channel, recording it all."""

from __future__ import annotations

import random
from typing import Any

from twisted.internet.interfaces import IDelayedCall

from tests.chaos.checker import History
from twistedchat.client.api import ChatClient, fixed_nodes
from twistedchat.client.session import Event, Identity, Incoming, Reply, SessionLost
from twistedchat.wire.message import Message

CHANNEL = "#chaos"
MAX_IN_FLIGHT = 20  # unanswered sends per client before it waits


class Chatter:
    """What every chaos client shares: numbered lines to the channel on a jittered
    schedule, at most MAX_IN_FLIGHT unanswered, each recorded when sent. Subclasses say
    how a line goes out (:meth:`_submit`) and record what comes back."""

    def __init__(self, name: str, reactor: Any, history: History, rng: random.Random,
                 start: float) -> None:  # fmt: skip
        self.name = name
        self.reactor = reactor
        self.history = history
        self.rng = rng
        self.start = start
        self.count = 0
        self.sending = False
        self.in_flight: dict[str, str] = {}  # label -> text
        self._next: IDelayedCall | None = None
        history.delivered[name] = []

    def now(self) -> float:
        return float(self.reactor.seconds()) - self.start

    def begin(self, period: float) -> None:
        self.sending = True
        self._schedule(period)

    def halt(self) -> None:
        self.sending = False
        if self._next is not None and self._next.active():
            self._next.cancel()

    def _schedule(self, period: float) -> None:
        if self.sending:
            delay = self.rng.uniform(0.5, 1.5) * period
            self._next = self.reactor.callLater(delay, self._send, period)

    def _send(self, period: float) -> None:
        if len(self.in_flight) < MAX_IN_FLIGHT:
            self.count += 1
            text = f"{self.name}-{self.count:05d}"
            self.history.sent[text] = self.now()
            self.in_flight[self._submit(text)] = text
        self._schedule(period)

    def _submit(self, text: str) -> str:
        """Send ``text`` to the channel; returns the label its answer will carry."""
        raise NotImplementedError


class Talker(Chatter):
    """One :class:`ChatClient` that sends numbered lines and records what it sees."""

    def __init__(self, name: str, reactor: Any, nodes: list[str], history: History,
                 rng: random.Random, start: float) -> None:  # fmt: skip
        super().__init__(name, reactor, history, rng, start)
        self.joined = False
        self.client = ChatClient(reactor, fixed_nodes(nodes), Identity(name, name, name),
                                 self._event, keepalive=1.0)  # fmt: skip

    async def join(self) -> None:
        await self.client.start()
        await self.client.join(CHANNEL)
        self.joined = True

    def close(self) -> None:
        self.client.close()

    def _submit(self, text: str) -> str:
        return self.client.submit(Message("PRIVMSG", (CHANNEL, text)))

    def _event(self, event: Event) -> None:
        if isinstance(event, Reply):
            text = self.in_flight.pop(event.label, None)
            if text is None:
                return
            echoed = any(m.command == "PRIVMSG" and m.params[-1:] == (text,)
                         for m in event.messages)  # fmt: skip
            if event.messages and not echoed:  # an error numeric or FAIL: not acknowledged
                why = " ".join((event.messages[0].command, *event.messages[0].params[1:]))
                self.history.refused.append([self.name, text, why[:120]])
                return
            self.history.acked[text] = self.now()  # the echo, or ACK for a re-sent line
            for message in event.messages:
                self._record(message)
        elif isinstance(event, Incoming):
            self._record(event.message)
        elif isinstance(event, SessionLost):
            self.history.lost.append([self.name, self.now()])

    def _record(self, message: Message) -> None:
        if message.command == "PRIVMSG" and message.params[:1] == (CHANNEL,):
            msgid = message.tags.get("msgid", "")
            self.history.delivered[self.name].append([message.params[-1], msgid])
