"""Logins that wait a moment before they take over or join a session (decision 0032).

A login (a CONNECT with SASL, or NickServ IDENTIFY's ``@LOGIN``) that would take over or
join a session whose connection is on another node the leader has not marked down cannot
be applied yet: that node may have just died (then the client must take the session over
and be replayed what it missed from where the leader will say the node stopped) or be
alive (then the client joins the session, multiclient). The hub holds it, asks that node
through the log (``@PROBE``; a node with the connection answers ``@ALIVE``), and lets it
go when the node answers, when the leader marks the node down, or after ``wait``
seconds. The session's later writes wait behind it, so they apply in the order sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.interfaces import IReactorTime

from twistedchat.chat.command import ALIVE, CONNECT, LOGIN, PROBE
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

Submit = Callable[[str, Message, str | None], None]


@dataclass(slots=True)
class HeldLogin:
    """A login held until ``until``, for the session ``holder``; ``later``: the writes its
    connection sent meanwhile, in order."""

    message: Message
    label: str | None
    until: float
    holder: str
    later: list[tuple[Message, str | None]] = field(default_factory=list)


class HeldLogins:
    """The logins this node holds, by the session id of the connection that sent them."""

    def __init__(
        self,
        node_id: str,
        state: Callable[[], ChatState],
        clock: IReactorTime,
        submit: Submit,
        propose_for_node: Callable[[Message], None],
        wait: float,
    ) -> None:
        self.node_id = node_id
        self._state = state  # the hub's current state (a snapshot install replaces it)
        self.clock = clock
        self._submit = submit
        self._propose_for_node = propose_for_node
        self.wait = wait
        self._held: dict[str, HeldLogin] = {}

    def take(self, session: str, message: Message, label: str | None) -> bool:
        """Hold ``message`` of ``session`` if it must wait (or if an earlier login of the
        session is held); returns whether it did. A newly held login probes its holder."""
        held = self._held.get(session)
        if held is not None:
            held.later.append((message, label))
            return True
        if message.command not in (CONNECT, LOGIN):
            return False
        holder = self._state().reclaim_waits(message, self.node_id)
        if holder is None:
            return False
        until = self.clock.seconds() + self.wait
        self._held[session] = HeldLogin(message, label, until, holder)
        self._propose_for_node(Message(PROBE, (holder,)))
        return True

    def forget(self, session: str) -> None:
        """The connection is gone: drop what it had held."""
        self._held.pop(session, None)

    def release(self, alive: str | None = None) -> None:
        """Send the held logins that need not wait any longer (``alive``: a session whose
        node just said its connection is there), each followed by its later writes."""
        if not self._held:
            return
        now, state = self.clock.seconds(), self._state()
        for session, held in list(self._held.items()):
            waits = state.reclaim_waits(held.message, self.node_id) is not None
            if now >= held.until or not waits or held.holder == alive:
                del self._held[session]
                self._submit(session, held.message, held.label)
                for message, label in held.later:
                    self._submit(session, message, label)

    def answered(self, message: Message) -> None:
        """An applied ``@ALIVE``: release the logins held for its session."""
        if message.command == ALIVE and message.params:
            self.release(alive=message.params[0])
