"""Session resume: a user whose connection or node died takes the same session back.

A session that negotiated resume holds the hash of a secret token (the token itself only
ever travels to its client). Presenting the token on any node proposes ``@RESUME`` with
the hashes of the old token and a fresh one; applying it moves the session to the
proposing node. Nobody else sees anything: no QUIT, no JOIN, the same nick, channels and
account. The session id stays the same, so exactly-once continues across the move.

Two rules make the move safe while commands of the old connection may still be in flight:

* A resume moves the session's sequence numbers :data:`RESUME_SEQ_JUMP` ahead, and a
  session's commands count only when they come from the node the session is on (see
  :meth:`~twistedchat.chat.state.ChatState.apply`); so a late write of the old
  connection, on the old node or an earlier run of the same one, can never take a
  sequence number the new connection hands out.
* A resumable session remembers the client references (labels) of its recent writes, so a
  client that re-sends a write whose acknowledgement it lost is answered without applying
  the write twice.
"""

from __future__ import annotations

import hashlib

from twistedchat.chat import alwayson, replay
from twistedchat.chat.command import Command
from twistedchat.chat.model import DOWN_UNKNOWN, User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire.message import Message

#: A resume moves the session's sequence numbers this far ahead, past any write its old
#: connection may still have in flight (a connection has at most a few dozen), so such a
#: write can never take a number the new connection hands out, even on the same node.
RESUME_SEQ_JUMP = 1 << 20
RESUME_TAG = "resume"  # tag of a CONNECT: the hash of the session's first token
#: Client references a resumable session remembers (the writes a client may re-send).
REFS_KEPT = 128


def token_hash(token: str) -> str:
    """What the replicated state keeps of a resume token: a hash, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def resume(world: World, out: Outbox, command: Command) -> User | None:
    """Move the session holding the presented token to ``command.node``.

    The proposing (not yet registered) session is answered with a JOIN for each channel
    of the resumed user, then ``RESUME SUCCESS <nick>``; or ``FAIL RESUME INVALID_TOKEN``.
    """
    params = command.message.params
    session = world.resumable.get(params[0]) if len(params) == 2 else None
    user = None if session is None else world.users[session]
    if user is None:
        text = "Cannot resume: the token is unknown or its session has ended"
        out.send(command.session, Message("FAIL", ("RESUME", "INVALID_TOKEN", text)))
        return None
    world.set_resume_hash(user, params[1], presented=params[0])
    move(world, out, user, command.session, command.node)
    return user


def reclaim(world: World, out: Outbox, command: Command, holder: User) -> None:
    """A client logged in by SASL as the account of the session holding its nick takes
    that session over, like a resume: for plain clients that cannot resume (the holder's
    node died, or its connection hangs). See :func:`take_over`."""
    token = command.message.tags.get(RESUME_TAG)
    take_over(world, out, holder, command.session, command.node, token)


def take_over(
    world: World,
    out: Outbox,
    holder: User,
    connection: str,
    node: str,
    token: str | None,
    *,
    greet: bool = True,
) -> None:
    """The connection ``connection`` on ``node`` takes ``holder``'s session over; its
    resume token becomes ``token`` (None: not resumable) and the old ones stop working.
    Without ``greet`` the connection, already registered, is told nothing here (see
    :func:`move`).

    If the session was detached (:mod:`~twistedchat.chat.alwayson`) or the leader marked
    its node down, the client is then replayed what the session was sent since
    (:mod:`~twistedchat.chat.replay`); a resuming client asks for that itself, by msgid,
    which is exact.
    """
    since = holder.detached_at or world.node(holder.node).down_at
    if holder.detached_at:
        alwayson.reattach(world, out, holder)
    world.set_resume_hash(holder, token)
    move(world, out, holder, connection, node, greet=greet)
    if since > 0:
        replay.replay(world, out, holder, connection, since, out.index)
    elif since == DOWN_UNKNOWN:
        replay.cannot_replay(out, holder, connection)


def move(
    world: World, out: Outbox, user: User, connection: str, node: str, *, greet: bool = True
) -> None:
    """Give ``user``'s session to the connection ``connection`` on ``node``.

    With ``greet``, that connection (registering) is told the user's channels (a JOIN
    each) and ``RESUME SUCCESS``, for its node to greet it as a resumed session.
    """
    world.move_user(user, node)
    user.first_gone = False  # the session's own connection is this one now
    user.seq += RESUME_SEQ_JUMP
    if not greet:
        return
    for key in user.channels:
        name = world.channels[key].name
        out.send(connection, Message("JOIN", user.join_params(name), user.prefix))
    out.send(connection, Message("RESUME", ("SUCCESS", user.nick)))


def seen_before(user: User, ref: str | None) -> bool:
    """Whether ``ref`` names a write of this session that was already applied."""
    return ref is not None and user.resume_hash is not None and ref in user.refs


def remember(user: User, ref: str | None) -> None:
    """Note an applied write of a resumable session by its client reference."""
    if ref is None or user.resume_hash is None:
        return
    user.refs[ref] = None
    if len(user.refs) > REFS_KEPT:
        del user.refs[next(iter(user.refs))]


def orphan_quit(world: World, command: Command) -> User | None:
    """End an orphaned session if it is still where and as its node left it."""
    params = command.message.params
    user = world.users.get(params[0]) if len(params) == 2 else None
    if user is None or user.node != command.node or user.resume_hash != params[1]:
        return None  # resumed meanwhile (a new token), elsewhere, or already gone
    return user
