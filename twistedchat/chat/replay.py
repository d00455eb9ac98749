"""Replay on reclaim: what a session was sent while its node was down, sent again.

When a plain client takes its session back by logging in on another node (see
:func:`twistedchat.chat.resume.reclaim`), it gets, after the welcome and the channel
state, the PRIVMSG and NOTICE lines its session was sent after its old node stopped
handing lines out: from the history of its channels and of its private conversations, in
log order, each once, with their original tags (the connection keeps ``time`` and
``msgid`` for clients that negotiated them and drops them for the others). A NOTICE
before them says how many there are and since when; a plain client has no other way to
know that the lines are not live.

Where the old node stopped comes from the log: the leader marks a node down with the last
log index the node is known to have learnt was committed (``@NODE-DOWN``, decision 0032),
and a node applies and hands out an entry in the same turn as it learns it is committed.
Only messages are replayed, not channel events: the reclaiming client is shown each
channel's members and topic as they are now, and a replayed JOIN or PART would make its
nick list wrong. Own messages (the old connection's last writes, committed after the
node went down) are replayed only to clients with ``echo-message``, like live ones.
Bounded: by what the history keeps, and to the latest :attr:`ChatLimits.replay_lines`.
"""

from __future__ import annotations

from twistedchat.chat.history import Stored, channel_key, parties
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox, log_position, server_time
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

REPLAY_NOTICE = "*** Replaying"  # how the notice before replayed lines starts


def missed(world: World, user: User, since: int, until: int) -> list[Stored]:
    """The messages ``user`` was sent after log index ``since`` and before ``until``, in
    log order (channels first where one entry sent several)."""
    found: list[tuple[tuple[int, int], Stored]] = []
    for key in user.channels:
        found += _between(world.history.messages(channel_key(world.channels[key].name)),
                          since, until)  # fmt: skip
    me, names = world.party(user), {casefold(user.nick)}
    if user.account is not None:
        names.add(casefold(user.account))
    for key in world.history.conversations:
        sides = parties(key)
        if sides is None or me not in sides:
            continue
        for position, stored in _between(world.history.messages(key), since, until):
            to_me = bool(stored.message.params) and casefold(stored.message.params[0]) in names
            if to_me or stored.sender == user.session:
                found.append((position, stored))
    found.sort(key=lambda item: item[0])
    return [stored for _, stored in found]


def _between(items: list[Stored], since: int, until: int) -> list[tuple[tuple[int, int], Stored]]:
    kept = []
    for stored in items:
        position = log_position(stored.msgid)
        if since < position[0] < until and stored.is_message:
            kept.append((position, stored))
    return kept


def replay(world: World, out: Outbox, user: User, connection: str, since: int, until: int) -> None:
    """Send ``connection`` (now ``user``'s) what ``user`` missed between the two log
    indexes, after the answer to its login (``separate``), with the notice first: its
    server went down, or it was detached (always-on)."""
    lines = missed(world, user, since, until)
    if not lines:
        return
    cap = world.limits.replay_lines
    shown = lines[-cap:]
    first = _clock(shown[0].time)
    if len(shown) < len(lines):
        text = (
            f"{REPLAY_NOTICE} the last {len(shown)} of the {len(lines)} lines you missed "
            f"(since {first}); CHATHISTORY has the others"
        )
    else:
        text = f"{REPLAY_NOTICE} {len(shown)} lines you missed (since {first})"
    out.send(connection, Message("NOTICE", (user.nick, text)), separate=True)
    for stored in shown:
        own = stored.sender == user.session
        out.send(connection, stored.message, echo=own, separate=True)


def cannot_replay(out: Outbox, user: User, connection: str) -> None:
    """Tell ``connection`` (now ``user``'s) that what it missed is not replayed: its
    server went down at a moment the leader cannot tell (decision 0032)."""
    text = (
        "*** Your server went down at a moment the cluster cannot tell exactly, so what "
        "was said meanwhile is not replayed; CHATHISTORY has it"
    )
    out.send(connection, Message("NOTICE", (user.nick, text)), separate=True)


def _clock(ms: int) -> str:
    """A log time as the notice shows it: ``2026-12-03 11:25:54 UTC``."""
    return server_time(ms)[:19].replace("T", " ") + " UTC"
