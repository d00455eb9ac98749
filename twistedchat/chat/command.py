"""Entries of the replicated chat log and what applying them delivers.

A :class:`Command` is what the node proposes to Raft; every node applies the same commands
in the same order to its :class:`~twistedchat.chat.state.ChatState` and gets the same
:class:`Delivery` list back, then hands each delivery to the session it names if that
session is connected locally.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from twistedchat.irc.message import Message

#: Pseudo-commands that are not IRC commands but travel in the log like them.
CONNECT = "@CONNECT"  # a connection finished registration: params (nick, user, host, realname)
NODE_RESET = "@NODE-RESET"  # a node (re)started: end every session it owned (params: ())
NODE_LOST = "@NODE-LOST"  # the leader gave up on a dead node: end its sessions (params: (node,))
TICK = "@TICK"  # the leader's clock for plugins' time-driven actions (params: ())
PLUGIN_SAY = "@PLUGIN-SAY"  # a leader hook's answer: params (plugin, target, text)
MOVE = "@MOVE"  # the leader asks a node to move some resumable clients: (node, count)


@dataclass(frozen=True, slots=True)
class Command:
    """One entry of the replicated chat log.

    ``session`` and ``seq`` make proposals exactly-once (Raft dissertation 6.3): a session's
    commands are applied in ``seq`` order, each once, however often they are retried.
    ``time`` (milliseconds since the epoch) is the log's clock: the leader stamps each
    entry as it appends it (:class:`~twistedchat.raft.messages.Entry`), so no proposing
    node's clock decides it and it never runs backwards (decision 0020); it is not part of
    the encoding, and a proposal leaves it 0. ``node`` is the id of the node the session is on.
    ``ref`` is the client's own reference for the write (its label), by which a resumed
    session recognises a write it re-sent (see :mod:`twistedchat.chat.resume`).
    """

    session: str
    seq: int
    time: int
    node: str
    message: Message
    ref: str | None = None

    def encode(self) -> bytes:
        m = self.message
        doc: dict[str, object] = {
            "s": self.session,
            "q": self.seq,
            "n": self.node,
            "c": m.command,
            "p": list(m.params),
        }
        if m.tags:
            doc["g"] = dict(m.tags)
        if self.ref is not None:
            doc["r"] = self.ref
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes, time: int) -> Command:
        """The command ``data`` encodes, at the log's ``time``; entries written before the
        log had a clock (time 0) carry the time their proposer stamped."""
        doc = json.loads(data)
        return cls(
            session=doc["s"],
            seq=doc["q"],
            time=time or doc.get("t", 0),
            node=doc["n"],
            message=Message(doc["c"], tuple(doc["p"]), None, doc.get("g") or {}),
            ref=doc.get("r"),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """Send ``message`` to ``session``.

    ``echo`` marks the copy of a user's own PRIVMSG/NOTICE/TAGMSG sent back to them: the
    connection sends it only if the client negotiated ``echo-message``. Tags such as
    ``time``, ``msgid`` and ``account`` are always attached; the connection drops those its
    client did not ask for.

    ``separate`` marks a message to the entry's own session that is not an answer to its
    command (mail handed over at login): the node sends it after the answer, like a
    message from someone else, so it is not labelled (labeled-response) and not taken for
    part of the registration reply, and arrives after the welcome burst.
    """

    session: str
    message: Message
    echo: bool = False
    separate: bool = False
