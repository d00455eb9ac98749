"""IRC operators: OPER (verified by the node, replicated as ``@OPER``), KILL and CLUSTER.

Operator names and password hashes come from each node's configuration, never from the
log: the node checks ``OPER name password`` against its own list and proposes only
``@OPER (name)``, as for account logins. Being an operator is then part of the user's
replicated state (WHOIS 313, user mode +o) until they quit or drop it with ``MODE -o``.
"""

from __future__ import annotations

import re

from twistedchat.chat import users
from twistedchat.chat.context import Context
from twistedchat.chat.delivery import without
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import numeric
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: ``CLUSTER <verb> <node>``: what the nodes do once an operator's request is applied.
ADMIN_VERBS = ("DRAIN", "TRANSFER", "REMOVE")


def oper(ctx: Context) -> None:
    user = ctx.user
    if not ctx.params:
        return
    if not user.oper:
        user.oper = True
        ctx.out.send(user.session, ctx.out.user_message(user, "MODE", user.nick, "+o"))
    ctx.reply(N.RPL_YOUREOPER, f"You are now an IRC operator ({ctx.params[0]})")


def kill(ctx: Context) -> None:
    """``KILL nick :reason``: end someone's session (the table lets only operators)."""
    killer = ctx.user
    victim = ctx.world.user_by_nick(ctx.params[0])
    if victim is None:
        ctx.reply(N.ERR_NOSUCHNICK, ctx.params[0], "No such nick/channel")
        return
    reason = ctx.params[1] if len(ctx.params) > 1 and ctx.params[1] else "No reason"
    quit_reason = f"Killed ({killer.nick} ({reason}))"
    closing = Message("ERROR", (f"Closing Link: {victim.host} ({quit_reason})",))
    ctx.out.send(victim.session, closing)
    users.leave(ctx.world, ctx.out, victim, quit_reason, ctx.time)


#: What a username or host given to CHGHOST may hold (no space, ``!``, ``@`` or ``:``).
_USERNAME = re.compile(r"[A-Za-z0-9~._\-\[\]{}|^`]{1,16}\Z")
_HOST = re.compile(r"[A-Za-z0-9.\-/]{1,63}\Z")
#: The capability that shows a host change as such, not as a quit and a rejoin.
CHGHOST_CAP = "chghost"


def chghost(ctx: Context) -> None:
    """``CHGHOST nick user host``: an operator gives a user a new username and host (a
    cloak, say). Channel peers with ``chghost`` are sent CHGHOST; the others see the
    user quit and come back, as the IRCv3 spec suggests, with their status restored."""
    world, out = ctx.world, ctx.out
    target = world.user_by_nick(ctx.params[0])
    username, host = ctx.params[1], ctx.params[2]
    if target is None:
        ctx.reply(N.ERR_NOSUCHNICK, ctx.params[0], "No such nick/channel")
        return
    if not _USERNAME.match(username) or not _HOST.match(host):
        ctx.reply(N.ERR_UNKNOWNERROR, "CHGHOST", "Invalid username or host")
        return
    if (target.username, target.host) == (username, host):
        return
    change = out.user_message(target, "CHGHOST", username, host)
    quit_ = out.user_message(target, "QUIT", "Changing host")
    target.username, target.host = username, host
    world.tell_peers(out, target, change, needs=CHGHOST_CAP)
    out.send(target.session, change, needs=CHGHOST_CAP)
    peers = tuple(peer.session for peer in world.peers(target))
    fallback = without(CHGHOST_CAP)
    out.send_all(peers, quit_, needs=fallback)
    for key in target.channels:
        channel = world.channels[key]
        join = out.user_message(target, "JOIN", *target.join_params(channel.name))
        out.send_all(channel.members, join, skip=target.session, needs=fallback)
        status = channel.members[target.session].prefixes
        letters = status.replace("@", "o").replace("+", "v")
        if letters:
            mode = out.user_message(
                target, "MODE", channel.name, "+" + letters, *([target.nick] * len(letters))
            )
            out.send_all(channel.members, mode, skip=target.session, needs=fallback)
    out.send(target.session, numeric(target.nick, N.RPL_VISIBLEHOST, host,
                                     "is now your displayed host"))  # fmt: skip


def wallops(ctx: Context) -> None:
    """``WALLOPS :text`` from an operator, to every user with mode +w (the sender too,
    if +w), in the order they connected; the table lets only operators send it."""
    world, sender = ctx.world, ctx.user
    message = ctx.out.user_message(sender, "WALLOPS", ctx.params[0])
    ctx.out.send_all((u.session for u in world.users.values() if u.wallops), message)


def is_admin_request(params: tuple[str, ...]) -> bool:
    """``CLUSTER DRAIN|TRANSFER|REMOVE node`` changes the cluster; bare CLUSTER is a query."""
    return len(params) >= 2 and params[0].upper() in ADMIN_VERBS


def cluster(ctx: Context) -> tuple[str, str] | None:
    """An operator asks the cluster to drain a node of its clients, to hand leadership to
    a node, or to remove a node from the membership now. The chat does not change: the
    nodes act once the request is applied (see the hub). Returns (verb, node) if valid."""
    if not ctx.user.oper:
        ctx.reply(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return None
    verb, node = ctx.params[0].upper(), ctx.params[1]
    if node not in ctx.world.nodes:
        ctx.reply(N.ERR_NOSUCHSERVER, node, "No such node")
        return None
    ctx.out.send(ctx.user.session, Message("NOTE", ("CLUSTER", verb, node, "Requested")))
    return verb, node


def cluster_status(world: World, viewer: User) -> list[Message]:
    """``CLUSTER``: the nodes the log knows, with their users (anyone may ask)."""
    lines = []
    for node, info in sorted(world.nodes.items()):
        addresses = ",".join(info.addresses) or "-"
        users = f"{len(info.sessions)} users"
        lines.append(Message("NOTE", ("CLUSTER", "NODE", node, addresses, users)))
    return [*lines, Message("NOTE", ("CLUSTER", "END", f"{len(lines)} nodes"))]
