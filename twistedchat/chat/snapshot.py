"""Snapshot encoding of the chat state: compact, deterministic JSON.

Everything is written as ordered lists, because order is state here: it decides the order
of deliveries (members, a user's channels, kept mail) and of evictions (WHOWAS, ended
sessions, mailboxes). Indexes (nick lookup, a node's sessions, who is logged in to which
account) are rebuilt on load instead of stored. Parts added after version 1 was fixed
(history, mail, ...) are optional on load, so older snapshots still load.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from twistedchat.chat.accounts import Account
from twistedchat.chat.history import Stored
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.model import (
    Ban,
    Channel,
    Client,
    Member,
    NodeInfo,
    Topic,
    User,
    WhowasEntry,
    World,
)
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

VERSION = 1


class SnapshotError(ValueError):
    """The data is not a chat state snapshot this code can read."""


def dump(world: World, ended: dict[str, int]) -> bytes:
    doc = {
        "version": VERSION,
        "users": [_user(u) for u in world.users.values()],
        "channels": [_channel(c) for c in world.channels.values()],
        "whowas": [[e.nick, e.username, e.host, e.realname, e.time] for e in world.whowas],
        "nodes": [
            [n, i.addresses, i.run, i.max_users, i.server, i.down_at, list(i.sessions), i.web]
            for n, i in world.nodes.items()
        ],
        "max_users": world.max_users,
        "log_time": world.log_time,
        "ended": [[session, seq] for session, seq in ended.items()],
        "accounts": [
            [a.name, a.password_hash, a.registered_at, a.always_on] for a in world.accounts.values()
        ],
        "nick_guard": [[session, since] for session, since in world.nick_guard.items()],
        "history": [
            [key, [[m.time, *_message(m.message), *_sender(m)] for m in stored]]
            for key, stored in world.history.conversations.items()
        ],
        "mail": [
            [key, [[m.time, *_message(m.message)] for m in box]]
            for key, box in world.mail.boxes.items()
        ],
        "plugins": world.plugin_data,
        "read_markers": world.read_markers.rows(),
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def load(data: bytes, limits: ChatLimits) -> tuple[World, dict[str, int]]:
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise SnapshotError("unknown chat snapshot version")
    world = World(limits)
    session_order: dict[str, list[str]] = {}
    for node_id, addresses, run, max_users, *later in doc["nodes"]:
        # Before version 1 named runs, this was the restart's time: the run is unknown.
        # Older snapshots have no server name, down mark, session order or web URL.
        run = run if isinstance(run, str) else ""
        server = str(later[0]) if later else ""
        down_at = int(later[1]) if len(later) > 1 else 0
        session_order[node_id] = list(later[2]) if len(later) > 2 else []
        web = str(later[3]) if len(later) > 3 else ""
        world.nodes[node_id] = NodeInfo(list(addresses), run, max_users, server=server,
                                        down_at=down_at, web=web)  # fmt: skip
    for row in doc["channels"]:
        channel = _load_channel(row)
        world.channels[casefold(channel.name)] = channel
    for row in doc["users"]:
        world.add_user(_load_user(row))  # the indexes (nicks, nodes, tokens) come with it
    for node_id, order in session_order.items():  # the order sessions came (moves last),
        info = world.nodes[node_id]  # which restarts and losses end them in
        info.sessions = {**dict.fromkeys(s for s in order if s in info.sessions), **info.sessions}
    by_age = sorted(world.detached, key=lambda session: world.users[session].detached_since)
    world.detached = dict.fromkeys(by_age)  # detach order is log order, so by time
    world.presence.clear()  # loading is no one coming online
    world.changes.clear()
    world.metadata_changes.clear()
    world.joins.clear()
    world.whowas = deque((WhowasEntry(*row) for row in doc["whowas"]), maxlen=limits.whowas)
    world.max_users = doc["max_users"]
    world.log_time = doc.get("log_time", 0)
    for name, password_hash, registered_at, *always_on in doc.get("accounts", []):
        account = Account(name, password_hash, registered_at, *always_on[:1])
        world.accounts[casefold(name)] = account
    world.nick_guard = {session: since for session, since in doc.get("nick_guard", [])}
    for key, stored in doc.get("history", []):  # absent in snapshots of older versions
        world.history.restore(key, [_load_stored(row) for row in stored])
    for key, box in doc.get("mail", []):  # absent in snapshots of older versions
        world.mail.restore(key, [_load_stored(row) for row in box])
    world.plugin_data = doc.get("plugins", {})
    world.read_markers.restore(doc.get("read_markers", []))  # absent in older snapshots
    return world, {session: seq for session, seq in doc["ended"]}


def _message(m: Message) -> list[Any]:
    return [m.command, list(m.params), m.source, dict(m.tags)]


def _sender(m: Stored) -> list[str]:
    """A kept message's sender, written only when known (older snapshots have none)."""
    return [m.sender] if m.sender else []


def _load_stored(row: list[Any]) -> Stored:
    time, command, params, source, tags, *sender = row
    return Stored(time, Message(command, tuple(params), source, tags), *sender[:1])


def _user(u: User) -> list[Any]:
    return [
        u.session, u.node, u.seq, u.nick, u.username, u.host, u.realname,
        u.away, u.invisible, u.account, list(u.channels), u.resume_hash, list(u.refs), u.oper,
        list(u.resume_older), u.bot, u.wallops, [[k, v] for k, v in u.metadata.items()],
        u.detached_at, u.detached_since, u.auto_away,
        [[s, c.node, c.seq] for s, c in u.clients.items()], u.first_gone,
    ]  # fmt: skip


def _load_user(row: list[Any]) -> User:
    session, node, seq, nick, username, host, realname, away, invisible, account, channels = row[
        :11
    ]
    later_fields: list[Any] = [None, [], False, [], False, False, [], 0, 0, False, [], False]
    (
        resume_hash,
        refs,
        oper,
        older,
        bot,
        wallops,
        metadata,
        detached_at,
        since,
        auto_away,
        clients,
        first_gone,
    ) = [
        *row[11:],
        *later_fields[len(row) - 11 :],
    ]
    if older is None or isinstance(older, str):  # older snapshots kept one earlier token at most
        older = [] if older is None else [older]
    return User(
        session, node, seq, nick, username, host, realname,
        away, invisible, account, dict.fromkeys(channels), resume_hash, dict.fromkeys(refs),
        bool(oper), tuple(older), bool(bot), bool(wallops), {k: v for k, v in metadata},
        int(detached_at), int(since), bool(auto_away),
        {s: Client(node, seq) for s, node, seq in clients}, bool(first_gone),
    )  # fmt: skip


def _channel(c: Channel) -> dict[str, Any]:
    return {
        "name": c.name,
        "created": c.created,
        "members": [[s, m.op, m.voice] for s, m in c.members.items()],
        "flags": c.flags,
        "key": c.key,
        "limit": c.limit,
        "topic": None if c.topic is None else [c.topic.text, c.topic.setter, c.topic.time],
        "bans": [[b.mask, b.setter, b.time] for b in c.bans],
        "invites": list(c.invites),
        "excepts": [[e.mask, e.setter, e.time] for e in c.excepts],
        "invexes": [[e.mask, e.setter, e.time] for e in c.invexes],
        "metadata": [[k, v] for k, v in c.metadata.items()],
    }


def _load_channel(row: dict[str, Any]) -> Channel:
    topic = row["topic"]
    return Channel(
        name=row["name"],
        created=row["created"],
        members={session: Member(op, voice) for session, op, voice in row["members"]},
        flags=row["flags"],
        key=row["key"],
        limit=row["limit"],
        topic=None if topic is None else Topic(*topic),
        bans=[Ban(*ban) for ban in row["bans"]],
        invites=dict.fromkeys(row["invites"]),
        excepts=[Ban(*entry) for entry in row.get("excepts", [])],  # absent in older
        invexes=[Ban(*entry) for entry in row.get("invexes", [])],  # snapshots
        metadata={k: v for k, v in row.get("metadata", [])},  # absent in older snapshots
    )
