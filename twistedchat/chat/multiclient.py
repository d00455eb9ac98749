"""Several clients on one account (Ergo's multiclient, soju): one user, many connections.

A client that logs in by SASL as the account of a user who is connected on a live node
does not take that user over: it joins them as a further client, on its own node, with
its own session id and sequence numbers (so each connection's writes stay exactly-once).
They share the nick, channels and modes; what is sent to the user reaches every one of
its connections, and what one of them sends reaches the others (each node's hub shows a
connection's answers to its other connections, see decision 0035). A client that leaves
while others stay is seen by nobody; when the last one goes the user quits (or detaches,
if always-on).

Whether the user is *live* decides between joining and taking over (a reclaim, with
replay): live means connected through a node the leader has not marked down, so a
client whose node died still takes its session back and is replayed what it missed.
"""

from __future__ import annotations

from twistedchat.chat.command import Command
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire.message import Message


def live(world: World, user: User) -> bool:
    """Whether ``user`` has a connection on a node the leader has not marked down."""
    if user.detached_at:
        return False
    if not user.first_gone and world.node(user.node).down_at == 0:
        return True
    return any(world.node(client.node).down_at == 0 for client in user.clients.values())


def joins(world: World, user: User) -> bool:
    """Whether a login to ``user``'s account joins them rather than takes them over
    (past ``clients_per_user`` connections, the newest login takes the user over)."""
    limits = world.limits
    room = len(user.clients) + 1 < limits.clients_per_user
    return limits.multiclient and room and live(world, user)


def attach(world: World, out: Outbox, command: Command, user: User) -> None:
    """The connection of ``command`` (registering) joins ``user``: it is told the user's
    channels (a JOIN each) and ``RESUME SUCCESS``, as a reclaim is, and greeted the same
    way by its node."""
    world.attach_client(user, command.session, command.node, command.seq)
    for key in user.channels:
        name = world.channels[key].name
        out.send(command.session, Message("JOIN", user.join_params(name), user.prefix))
    out.send(command.session, Message("RESUME", ("SUCCESS", user.nick)))


def lose_node(world: World, node: str) -> list[User]:
    """``node`` restarted or was lost: the further clients there are gone, and users whose
    own connection was there but who have further clients elsewhere go on through them.
    Returns the users left with no connection by the clients dropped (whose own
    connection had gone before), for the caller to end or detach."""
    stranded: dict[str, User] = {}
    owners = dict.fromkeys(world.clients.values())
    for user in [u for u in world.users.values() if u.session in owners]:  # in a replica-
        for session, client in list(user.clients.items()):  # independent order (snapshots)
            if client.node == node:
                world.drop_client(user, session)
        if user.first_gone and not user.clients:
            stranded[user.session] = user
    for session in world.node(node).sessions:
        user = world.users[session]
        if user.clients:
            user.first_gone = True
    return list(stranded.values())
