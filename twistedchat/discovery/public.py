"""The public directory: any client may ask a node's IRC port which nodes serve the cluster.

Pure: no I/O, no clock. Secret-authenticated discovery (:mod:`twistedchat.discovery.wire`)
is for nodes; a user holding only one node's address, or only the CA certificate the
nodes' IRC certificates come from, asks here instead. The question is the first line of a
connection to a node's IRC port, before any IRC registration::

    NODES <nonce> [<excluded>[,<excluded>...]]

and the answer is a few standard-reply lines, then the node closes the connection::

    :server NOTE NODES NODE <i> <plain host:port|*> <tls host:port|*> <open|full> <role>
    :server NOTE NODES LEADER <i> <term>
    :server NOTE NODES ASSIGN <i>
    :server NOTE NODES END <nonce> <role> <count> :<count> nodes

``i`` numbers the nodes of the answer from 0. ``LEADER`` names the node this one follows
(or itself), ``ASSIGN`` is given by the leader only: the node it assigns, the least
loaded with room, not among the client's ``excluded`` addresses (nodes it just failed to
use, which the leader may not yet know are dead). ``END`` echoes the client's nonce, so
an answer recorded earlier cannot be passed off as this one.

What the answer holds is public anyway (any IRC user may run ``CLUSTER``): nodes' IRC
addresses and roles. Nothing of the cluster secret, no peer address, no load figures.
Over plain TCP the answer is worth what the connection is (the same node would be given
the user's session); over TLS it comes from a node whose certificate the client checked
against its CA. Either way the client checks what it is told (:func:`read_answer` and
:mod:`twistedchat.discovery.plausible`) before it dials anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass

from twistedchat.discovery.wire import Announcement
from twistedchat.wire.message import Message

COMMAND = "NODES"
#: Nodes one answer lists at most; more is refused as implausible by the client.
MAX_NODES = 32
#: Addresses a query may exclude.
MAX_EXCLUDED = 8
#: Longest query line a node reads (bytes, without CR LF).
MAX_QUERY = 512
#: Lines and bytes a client reads of one answer before it gives up on it.
MAX_ANSWER_LINES = 2 * MAX_NODES + 8
MAX_ANSWER_BYTES = 32 * 1024
ROLES = frozenset({"leader", "follower", "candidate", "learner"})
_NONCE = re.compile(r"^[A-Za-z0-9]{8,32}$")
#: HOST:PORT with an IPv4 literal, a bracketed IPv6 literal or a DNS name.
_ADDRESS = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]{2,45}\]|[0-9.]{7,15}|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r":(?P<port>[0-9]{1,5})$"
)

#: Why an answer or a query is refused: a fixed set, so each can be counted and logged.
REASONS = (
    "garbage",  # not the lines of an answer, or malformed ones
    "too-big",  # more lines, nodes or bytes than an answer may have
    "stale",  # the nonce is not ours: a recorded or misdirected answer
    "implausible",  # addresses or references an honest node would not give
    "no-directory",  # the node does not answer NODES (an older node, or not ours)
    "refused",  # the node said no (rate limit, a bad query)
)


class Refused(Exception):
    """A query or an answer was refused; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """A node's IRC addresses (``None`` when it has no such endpoint) and state."""

    plain: str | None
    tls: str | None
    open: bool
    role: str

    def address(self, tls: bool) -> str | None:
        return self.tls if tls else self.plain


@dataclass(frozen=True, slots=True)
class Answer:
    """What a node answered; ``leader`` and ``assigned`` index ``nodes``."""

    nodes: tuple[NodeEntry, ...]
    role: str  # the answering node's role
    term: int
    leader: int | None = None
    assigned: int | None = None


# -- the node's side ---------------------------------------------------------------------


def parse_query(message: Message) -> tuple[str, frozenset[str]]:
    """The nonce and excluded addresses of a ``NODES`` query, or :class:`Refused`."""
    params = message.params
    if message.command != COMMAND or not 1 <= len(params) <= 2 or not _NONCE.match(params[0]):
        raise Refused("garbage", "NODES <nonce> [<excluded>,...]")
    excluded = frozenset(params[1].split(",")) if len(params) == 2 and params[1] else frozenset()
    if len(excluded) > MAX_EXCLUDED or not all(_ADDRESS.match(a) for a in excluded):
        raise Refused("garbage", f"at most {MAX_EXCLUDED} excluded HOST:PORT addresses")
    return params[0], excluded


def endpoint_address(description: str, node_id: str) -> tuple[bool, str] | None:
    """(is TLS, HOST:PORT) others reach a ``tcp:``/``tcp6:``/``ssl:`` server endpoint at; the node's
    own host when it listens everywhere; None for any other kind of endpoint."""
    parts = [p.replace("\\:", ":") for p in re.split(r"(?<!\\):", description)]
    if parts[0] not in ("tcp", "tcp6", "ssl") or len(parts) < 2 or not parts[1].isdigit():
        return None
    host = next((p.split("=", 1)[1] for p in parts[2:] if p.startswith("interface=")), "")
    if host in ("", "0.0.0.0", "::"):
        host = node_id.rpartition(":")[0]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return parts[0] == "ssl", f"{host}:{parts[1]}"


def build_answer(
    *,
    members: Set[str],
    alive: Iterable[Announcement],
    addresses_of: Callable[[str], Sequence[str]],
    role: str,
    term: int,
    leader_id: str | None,
    leading: bool,
    excluded: Set[str] = frozenset(),
) -> Answer:
    """The answer a node gives: the members discovery hears serving, with their IRC
    endpoints as the log recorded them (each node proposes its own at start-up); the
    leader's assignment when this node leads, chosen as the secret discovery's is (the
    least loaded node with room), among nodes the client did not exclude."""
    heard = {a.node_id: a for a in alive if a.node_id in members and a.role in ROLES}
    nodes: list[NodeEntry] = []
    ids: list[str] = []
    for node_id in sorted(heard)[:MAX_NODES]:
        announcement = heard[node_id]
        plain = tls = None
        for description in addresses_of(node_id):
            found = endpoint_address(description, node_id)
            if found is not None and found[0] and tls is None:
                tls = found[1]
            elif found is not None and not found[0] and plain is None:
                plain = found[1]
        if plain is None and tls is None:
            continue
        room = announcement.clients < announcement.capacity
        nodes.append(NodeEntry(plain, tls, room, announcement.role))
        ids.append(node_id)
    leader = ids.index(leader_id) if leader_id in ids else None
    assigned = None
    if leading:
        usable = [
            i
            for i, node in enumerate(nodes)
            if node.open and not ({node.plain, node.tls} & excluded)
        ]
        load = {i: heard[ids[i]].clients / heard[ids[i]].capacity for i in usable}
        assigned = min(usable, key=lambda i: (load[i], ids[i]), default=None)
    return Answer(tuple(nodes), role, term, leader, assigned)


def answer_lines(nonce: str, answer: Answer) -> list[Message]:
    """The NOTE lines of ``answer`` (the node serialises them with its server name)."""
    lines = [
        Message("NOTE", (COMMAND, "NODE", str(i), *_columns(node)))
        for i, node in enumerate(answer.nodes)
    ]
    if answer.leader is not None:
        lines.append(Message("NOTE", (COMMAND, "LEADER", str(answer.leader), str(answer.term))))
    if answer.assigned is not None:
        lines.append(Message("NOTE", (COMMAND, "ASSIGN", str(answer.assigned))))
    count = str(len(answer.nodes))
    end = (COMMAND, "END", nonce, answer.role, count, f"{count} nodes")
    lines.append(Message("NOTE", end))
    return lines


def _columns(node: NodeEntry) -> tuple[str, str, str, str]:
    return node.plain or "*", node.tls or "*", "open" if node.open else "full", node.role


# -- the client's side -------------------------------------------------------------------


def query_line(nonce: str, excluded: Iterable[str] = ()) -> Message:
    """The query a client sends; at most :data:`MAX_EXCLUDED` exclusions go along."""
    chosen = sorted(a for a in set(excluded) if _ADDRESS.match(a))[:MAX_EXCLUDED]
    return Message(COMMAND, (nonce, ",".join(chosen)) if chosen else (nonce,))


def valid_address(address: str) -> bool:
    """Whether ``address`` is HOST:PORT with a port from 1 to 65535."""
    match = _ADDRESS.match(address)
    return match is not None and 0 < int(match["port"]) < 65536


class AnswerReader:
    """Reads one answer a line at a time: :meth:`feed` returns the :class:`Answer` at
    ``END``, ``None`` before, and raises :class:`Refused` at the first line no honest
    node of ours would send. Bounded: an endless answer is refused as too big."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self._nodes: list[NodeEntry] = []
        self._leader: tuple[int, int] | None = None
        self._assigned: int | None = None
        self._lines = 0

    def feed(self, message: Message) -> Answer | None:
        self._lines += 1
        if self._lines > MAX_ANSWER_LINES:
            raise Refused("too-big", f"more than {MAX_ANSWER_LINES} lines")
        params = message.params
        if message.command == "FAIL" and params[:1] == (COMMAND,):
            raise Refused("refused", " ".join(params[1:])[:200])
        if message.command != "NOTE" or len(params) < 2 or params[0] != COMMAND:
            raise Refused("no-directory", f"{message.command} instead of an answer")
        kind, rest = params[1], params[2:]
        if kind == "NODE":
            self._node(rest)
        elif kind == "LEADER" and len(rest) == 2 and self._leader is None:
            self._leader = (self._index(rest[0]), _number(rest[1]))
        elif kind == "ASSIGN" and len(rest) == 1 and self._assigned is None:
            self._assigned = self._index(rest[0])
        elif kind == "END" and len(rest) >= 3:
            return self._end(*rest[:3])
        else:
            raise Refused("garbage", f"unexpected NOTE NODES {kind[:20]}")
        return None

    def _node(self, rest: tuple[str, ...]) -> None:
        if len(rest) != 5 or rest[0] != str(len(self._nodes)):
            raise Refused("garbage", "NODE lines must be numbered from 0")
        if len(self._nodes) >= MAX_NODES:
            raise Refused("too-big", f"more than {MAX_NODES} nodes")
        plain, tls = (None if a == "*" else a for a in rest[1:3])
        if rest[3] not in ("open", "full") or rest[4] not in ROLES:
            raise Refused("garbage", "a NODE line's state or role")
        if plain is None and tls is None:
            raise Refused("garbage", "a node without an address")
        for address in (plain, tls):
            if address is not None and not valid_address(address):
                raise Refused("implausible", f"not a HOST:PORT: {address[:80]!r}")
        self._nodes.append(NodeEntry(plain, tls, rest[3] == "open", rest[4]))

    def _index(self, text: str) -> int:
        if not text.isdigit() or int(text) >= len(self._nodes):
            raise Refused("implausible", "a reference to a node not listed before it")
        return int(text)

    def _end(self, nonce: str, role: str, count: str) -> Answer:
        if nonce != self.nonce:
            raise Refused("stale", "the nonce is not ours")
        if role not in ROLES or count != str(len(self._nodes)):
            raise Refused("garbage", "END's role or count")
        if self._assigned is not None and role != "leader":
            raise Refused("implausible", "an assignment from a node that does not lead")
        leader, term = self._leader if self._leader is not None else (None, 0)
        return Answer(tuple(self._nodes), role, term, leader, self._assigned)


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 15:
        raise Refused("garbage", "a term must be a number")
    return int(text)
