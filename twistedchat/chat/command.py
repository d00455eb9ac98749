"""Entries of the replicated chat log and what applying them delivers.

A :class:`Command` is what the node proposes to Raft; every node applies the same commands
in the same order to its :class:`~twistedchat.chat.state.ChatState` and gets the same
records of what to send back (:mod:`twistedchat.chat.delivery`).

In the log a command is bytes, in one of two formats told apart by the first byte
(decision 0021):

- ``\x01`` (:data:`BINARY`): a header ``u8 1 | i64 seq | u16 params | u16 tags | u8 ref``
  (big-endian; ``ref`` 0 or 1), then UTF-8 text: the session, the node, the IRC command,
  each param, each tag's name and value, and the ref if there is one, separated by NUL;
- ``{``: a JSON object. Every entry before 0021 is one, and so is still the rare command
  the binary format cannot carry (a NUL in one of its strings, which no IRC line has, or
  more than 65535 params or tags).

Both decode to equal commands; anything else is refused with a ValueError.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from twistedchat.wire.message import Message

#: Pseudo-commands that are not IRC commands but travel in the log like them. No client
#: can send one: the grammar reads a leading ``@`` as the start of message tags.
CONNECT = "@CONNECT"  # a connection finished registration: params (nick, user, host, realname)
NODE_RESET = "@NODE-RESET"  # a node (re)started: end every session it owned (its addresses)
SERVER_TAG = "server"  # on a NODE-RESET: the node's IRC server name
WEB_TAG = "web"  # on a NODE-RESET: the URL of its IRC over WebSocket (--websocket), if any
NODE_LOST = "@NODE-LOST"  # the leader gave up on a dead node: end its sessions (params: (node,))
#: The leader stopped hearing from a node: (node, the last log index it is known to have
#: learnt committed, so handed out); and heard from it again: (node,). See chat/replay.py.
NODE_DOWN = "@NODE-DOWN"
NODE_UP = "@NODE-UP"
#: A node holding a login that would take over or join a session asks the node that
#: session is on whether its connection is there: (session,); the answer, from a node
#: that has it: (session,). The chat does not change (node/hub.py).
PROBE = "@PROBE"
ALIVE = "@ALIVE"
TICK = "@TICK"  # the leader's clock for plugins' time-driven actions (params: ())
PLUGIN_SAY = "@PLUGIN-SAY"  # a leader hook's answer: params (plugin, target, text)
MOVE = "@MOVE"  # the leader asks a node to move some resumable clients: (node, count)
RESUME = "@RESUME"  # params: (hash of the presented token, hash of the next token)
#: A restarted node ends a session its previous run left, unless it was resumed meanwhile:
#: params (session, the resume hash it had when the node took charge of it).
ORPHAN_QUIT = "@ORPHAN-QUIT"
OPER = "@OPER"  # params: (operator name), proposed after the node checked the password
#: ``CLUSTER <verb> <node>`` from a node's status endpoint (token checked there): (verb, node).
ADMIN = "@ADMIN"
#: Accounts (chat/accounts.py), proposed once the node checked or hashed the password:
REGISTER = "@REGISTER"  # (account, hash[, "NickServ"])
LOGIN = "@LOGIN"  # (account,)
REHASH = "@REHASH"  # (account, old hash, new hash)
ACCOUNT_SET = "@ACCOUNT-SET"  # NickServ SET: (option[, value]) of the session's account
#: On a QUIT a node proposes for a connection that was lost: the last log index whose
#: deliveries it handed to that connection (an always-on session replays from there).
HANDED_TAG = "handed"


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
        """This command's bytes in the log: all of it but ``time``, which the log keeps."""
        m = self.message
        tags, ref = m.tags, self.ref
        strings = [self.session, self.node, m.command, *m.params]
        for item in tags.items():
            strings += item
        if ref is not None:
            strings.append(ref)
        text = "\0".join(strings)
        if (
            text.count("\0") == len(strings) - 1  # no NUL inside a string
            and len(m.params) <= 0xFFFF
            and len(tags) <= 0xFFFF
            and _MIN_SEQ <= self.seq <= _MAX_SEQ
        ):
            head = _pack_head(BINARY, self.seq, len(m.params), len(tags), ref is not None)
            return head + text.encode()
        return encode_json(self)

    @classmethod
    def decode(cls, data: bytes, time: int) -> Command:
        """The command ``data`` encodes, at the log's ``time``; entries written before the
        log had a clock (time 0) carry the time their proposer stamped. Raises ValueError
        if ``data`` is not a command."""
        if data[:1] != _BINARY_MARK:
            return _decode_json(data, time)
        try:
            _, seq, param_count, tag_count, has_ref = _unpack_head(data)
        except struct.error:
            raise ValueError(f"truncated command ({len(data)} bytes)") from None
        strings = data[_HEAD_SIZE:].decode().split("\0")  # UnicodeDecodeError: a ValueError
        tags_at = 3 + param_count
        ref_at = tags_at + 2 * tag_count
        if has_ref > 1 or len(strings) != ref_at + has_ref:
            raise ValueError(
                f"not a command: {len(strings)} strings for {param_count} params, "
                f"{tag_count} tags and ref {has_ref}"
            )
        if tag_count:  # the lengths are checked above: as many names as values
            tags = dict(
                zip(strings[tags_at:ref_at:2], strings[tags_at + 1 : ref_at : 2], strict=True)
            )
        else:
            tags = {}
        message = Message(strings[2], tuple(strings[3:tags_at]), None, tags)
        return cls(strings[0], seq, time, strings[1], message, strings[ref_at] if has_ref else None)


#: The first byte of a command in the binary format (one in JSON starts with ``{``).
BINARY = 1
_BINARY_MARK = bytes([BINARY])
_HEAD = struct.Struct(">BqHHB")
_pack_head, _unpack_head, _HEAD_SIZE = _HEAD.pack, _HEAD.unpack_from, _HEAD.size
_MIN_SEQ, _MAX_SEQ = -(2**63), 2**63 - 1


def encode_json(command: Command) -> bytes:
    """``command`` in JSON: how every entry was written before decision 0021, and how the
    rare command the binary format cannot carry still is."""
    m = command.message
    doc: dict[str, object] = {
        "s": command.session,
        "q": command.seq,
        "n": command.node,
        "c": m.command,
        "p": list(m.params),
    }
    if m.tags:
        doc["g"] = dict(m.tags)
    if command.ref is not None:
        doc["r"] = command.ref
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_json(data: bytes, time: int) -> Command:
    if data[:1] != b"{":
        raise ValueError(f"not a command: it starts with {data[:1]!r}")
    try:
        doc = json.loads(data)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    except RecursionError:
        raise ValueError("not a command: JSON nested too deep") from None
    try:
        return Command(
            session=doc["s"],
            seq=doc["q"],
            time=time or doc.get("t", 0),
            node=doc["n"],
            message=Message(doc["c"], tuple(doc["p"]), None, doc.get("g") or {}),
            ref=doc.get("r"),
        )
    except (KeyError, TypeError, AttributeError) as exc:  # valid JSON, but not a command
        raise ValueError(f"not a command: {exc!r}") from None
