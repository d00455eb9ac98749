"""Registered nicks belong to their accounts: others get a warning, then a Guest nick.

Deterministic like the rest of the state: the grace period is measured in log time, and a
user over it is renamed when the next entry is applied (an idle network renames late,
never early). Only users holding someone else's registered nick are tracked, so the work
per entry stays small.
"""

from __future__ import annotations

from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.chat.service import SERVICE_PREFIX
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

GRACE_MS = 60_000


def review(world: World, out: Outbox, user: User, time: int) -> None:
    """Start or stop the clock for ``user`` after its nick or account changed."""
    account = world.accounts.get(casefold(user.nick))
    protected = account is not None and (
        user.account is None or casefold(user.account) != casefold(account.name)
    )
    if not protected:
        world.nick_guard.pop(user.session, None)
    elif user.session not in world.nick_guard:
        world.nick_guard[user.session] = time
        text = (
            f"{user.nick} is a registered account: identify (/msg NickServ IDENTIFY "
            f"<password>) within {GRACE_MS // 1000} seconds or your nick will be changed"
        )
        notice = Message("NOTICE", (user.nick, text), SERVICE_PREFIX)
        out.send(user.session, notice, separate=True)  # after the welcome, at connect


def enforce(world: World, out: Outbox, time: int, index: int) -> None:
    """Rename every tracked user whose grace period is over."""
    for session, since in list(world.nick_guard.items()):
        user = world.users.get(session)
        if user is None:
            del world.nick_guard[session]
        elif time - since >= GRACE_MS:
            del world.nick_guard[session]
            _rename_to_guest(world, out, user, time, index)


def _rename_to_guest(world: World, out: Outbox, user: User, time: int, index: int) -> None:
    number = index
    while world.user_by_nick(f"Guest{number}") is not None:
        number += 1
    guest = f"Guest{number}"
    message = out.user_message(user, "NICK", guest)
    world.remember_everywhere(user, time, message)
    peers = world.peers(user)
    world.rename(user, guest, time)
    out.send(user.session, message)
    out.send_all((peer.session for peer in peers), message)
