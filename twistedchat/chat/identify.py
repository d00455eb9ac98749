"""NickServ IDENTIFY into an account's session, after registration.

A client that could not take its nick at connect (it did not use SASL) registers under
another nick, then identifies. If the account has a session holding the account's name
that is not live (its node is marked down), or a detached always-on one, the connection
leaves its own new session and takes that one over, replayed what it missed, as a SASL
login at connect would (see :func:`twistedchat.chat.users.connect`): its new session's
peers see it quit, and the connection is told its nick and shown the channels. A live
session is not joined this way: a second client joins by SASL at connect (multiclient).
"""

from __future__ import annotations

from twistedchat.chat import multiclient, queries, resume, users
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message


def identify_into(world: World, out: Outbox, user: User, time: int) -> str | None:
    """``user``, registered, just logged in by NickServ IDENTIFY: take the account's
    session over if it is not live (see the module docstring). Returns the session taken
    over (the hub hands it the connection), else None."""
    assert user.account is not None
    holder = users.reclaimed_by(world, user.account, user.account)
    if holder is None or holder is user or multiclient.live(world, holder):
        return None  # a connected user is joined by SASL at connect, not by IDENTIFY
    connection, node = user.session, user.node
    nick = out.user_message(user, "NICK", holder.nick)
    users.leave(world, out, user, f"Logged in as {holder.nick}", time)
    out.send(connection, nick)
    resume.take_over(world, out, holder, connection, node, None, greet=False)
    show_channels(world, out, holder, connection)
    return holder.session


def show_channels(world: World, out: Outbox, user: User, connection: str) -> None:
    """Tell ``connection`` (now ``user``'s, after registration) each channel it is in: a
    JOIN, the topic and the names, as joining would."""
    for key in user.channels:
        name = world.channels[key].name
        out.send(connection, Message("JOIN", user.join_params(name), user.prefix))
        for reply in (*queries.topic(world, user, Message("TOPIC", (name,)), ""),
                      *queries.names(world, user, Message("NAMES", (name,)), "")):  # fmt: skip
            if reply.command != N.RPL_NOTOPIC:
                out.send(connection, reply)
