"""A tiny driver for ChatState: numbers log entries and per-session seqs, renders output."""

from __future__ import annotations

from collections.abc import Mapping

from twistedchat.chat.command import CONNECT, NODE_LOST, NODE_RESET, SERVER_TAG, Command
from twistedchat.chat.delivery import Delivery, expand
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import Applied, ChatState
from twistedchat.irc.capabilities import SUPPORTED, for_client
from twistedchat.wire.message import Message

START_MS = 1_764_000_000_000


def parse(line: str) -> Message:
    """``"PRIVMSG #a :hi there"`` -> Message (tests only: no tags, no source)."""
    head, sep, trailing = line.partition(" :")
    words = head.split()
    params = (*words[1:], trailing) if sep else tuple(words[1:])
    return Message(words[0], params)


#: The tests show messages as a client of the classic forms sees them: every capability
#: but those that enrich a message (the state writes JOIN, NAMES, WHO and WHOIS in their
#: richest form, see ``capabilities.for_client``); ``tests/chat/test_rich_forms.py``
#: checks the rich forms themselves.
CLASSIC = frozenset(SUPPORTED) - {"extended-join", "multi-prefix", "userhost-in-names"}


def show(message: Message) -> str:
    """One line of IRC-ish text, with ``srv`` as the source of server messages."""
    message = for_client(message, CLASSIC) or message
    params = list(message.params)
    if params and (" " in params[-1] or params[-1].startswith(":") or params[-1] == ""):
        params[-1] = ":" + params[-1]
    return " ".join([f":{message.source or 'srv'}", message.command, *params])


class Chat:
    """Feeds commands to one ChatState the way the hub would: seqs count up per session."""

    def __init__(self, limits: ChatLimits | None = None):
        self.state = ChatState(limits or ChatLimits())
        self.index = 0
        self.time = START_MS
        self.seqs: dict[str, int] = {}
        self.nodes: dict[str, str] = {}
        self.log: list[tuple[int, Command]] = []
        self.applied: Applied | None = None  # what the last entry did, as the state said

    def command(self, session: str, message: Message, node: str | None = None) -> Command:
        seq = self.seqs.get(session, 0) + 1
        self.seqs[session] = seq
        self.time += 1000
        node = node or self.nodes.get(session, "n1")
        return Command(session, seq, self.time, node, message)

    def apply(self, command: Command) -> list[Delivery]:
        """Apply ``command``; returns what it sent, one :class:`Delivery` per session."""
        self.index += 1
        self.log.append((self.index, command))
        self.applied = self.state.apply(self.index, command)
        return list(expand(self.applied.deliveries))

    def send(
        self, session: str, line: str, tags: Mapping[str, str] | None = None
    ) -> list[Delivery]:
        message = parse(line)
        if tags:
            message = Message(message.command, message.params, None, tags)
        return self.apply(self.command(session, message))

    def connect(
        self,
        session: str,
        nick: str,
        user: str = "",
        host: str = "host",
        node: str = "n1",
        account: str | None = None,
    ) -> list[Delivery]:
        """A CONNECT; with ``account``, as the node sends it after a SASL login."""
        self.nodes[session] = node
        params: tuple[str, ...] = (nick, "~" + (user or nick), host, f"Real {nick}")
        if account is not None:
            params += (account,)
        return self.apply(self.command(session, Message(CONNECT, params), node))

    def internal(self, session: str, command: str, *params: str) -> list[Delivery]:
        """An internal command (``@REGISTER``, ``@LOGIN``...) as the node proposes it."""
        return self.apply(self.command(session, Message(command, params)))

    def users(self, *nicks: str) -> None:
        """Register one session per nick, named after the nick."""
        for nick in nicks:
            assert codes(self.connect(nick, nick), nick) == ["001"]

    def reset(self, node: str, *addresses: str, server: str | None = None) -> list[Delivery]:
        """A NODE-RESET of ``node``; with ``server``, naming its IRC server (as nodes do)."""
        session = f"{node}/boot{self.index}/node"
        tags = {} if server is None else {SERVER_TAG: server}
        return self.apply(self.command(session, Message(NODE_RESET, addresses, None, tags), node))

    def lose(self, node: str, reporter: str = "leader") -> list[Delivery]:
        """The leader (on node ``reporter``) gave up on ``node``."""
        session = f"{reporter}/boot{self.index}/node"
        return self.apply(self.command(session, Message(NODE_LOST, (node,)), reporter))

    def query(self, session: str, line: str, server: str = "irc.test") -> list[str]:
        return [show(m) for m in self.state.query(session, parse(line), server)]


def to(deliveries: list[Delivery], session: str, *, echo: bool | None = False) -> list[str]:
    """Lines delivered to ``session`` (echo copies only if ``echo`` is True; None: all)."""
    return [
        show(d.message)
        for d in deliveries
        if d.session == session and (echo is None or d.echo == echo)
    ]


def codes(deliveries: list[Delivery], session: str) -> list[str]:
    """Commands (numerics included) delivered to ``session``, echoes left out."""
    return [d.message.command for d in deliveries if d.session == session and not d.echo]


def recipients(deliveries: list[Delivery], command: str) -> list[str]:
    return [d.session for d in deliveries if d.message.command == command and not d.echo]


def room() -> Chat:
    """op (channel operator of #a), bob and carol in #a; dave elsewhere."""
    chat = Chat()
    chat.users("op", "bob", "carol", "dave")
    for nick in ("op", "bob", "carol"):
        chat.send(nick, "JOIN #a")
    return chat
