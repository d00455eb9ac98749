"""Always-on accounts: a session that stays in its channels while no client is connected.

As Ergo's ``always-on``: a user logged in to an account that is always-on does not quit
when their client goes (a QUIT, a lost connection, the end of its node): the session is
*detached*. Nobody sees it leave; it keeps its nick, channels and modes, shows as away
(``auto_away``, with away-notify) and is sent everything as before, which the history
keeps. The next login to the account, on any node, takes the session back
(:func:`twistedchat.chat.resume.reclaim`) and is replayed what it was sent since it was
detached (:mod:`~twistedchat.chat.replay`), from the exact log index its client was last
handed.

The operator chooses the default (:attr:`ChatLimits.always_on`): ``off``; ``opt-in``
(users turn it on with NickServ ``SET ALWAYS-ON ON``); ``opt-out`` (on unless turned
off); ``mandatory``. Bounded: a session detached for ``always_on_days`` of log time quits,
and at most ``always_on_max`` sessions are detached at once (past that, leaving quits).
"""

from __future__ import annotations

from twistedchat.chat.history import DAY_MS
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire.casemap import casefold

MODES = ("off", "opt-in", "opt-out", "mandatory")
AWAY_TEXT = "Not connected (always-on)"
EXPIRED = "Always-on session ended after a long absence"


def enabled(world: World, user: User) -> bool:
    """Whether ``user``'s session outlives its client."""
    mode = world.limits.always_on
    if user.account is None or mode == "off":
        return False
    if mode == "mandatory":
        return True
    account = world.accounts.get(casefold(user.account))
    choice = None if account is None else account.always_on
    return choice is True or (mode == "opt-out" and choice is None)


def stays(world: World, user: User) -> bool:
    """Whether ``user``, whose client is going, stays detached rather than quits."""
    return enabled(world, user) and len(world.detached) < world.limits.always_on_max


def detach(world: World, out: Outbox, user: User, handed_out: int, time: int) -> None:
    """``user``'s client went, having been handed the log up to ``handed_out``: keep the
    session, away, for the next login. It can no longer be resumed by token."""
    user.detached_at, user.detached_since = max(1, handed_out), time
    world.detached[user.session] = None
    world.set_resume_hash(user, None)
    if user.away is None:
        user.away, user.auto_away = AWAY_TEXT, True
        world.tell_peers(out, user, out.user_message(user, "AWAY", AWAY_TEXT))


def reattach(world: World, out: Outbox, user: User) -> None:
    """A client took ``user``'s detached session back: no longer away if detaching made it."""
    user.detached_at = user.detached_since = 0
    world.detached.pop(user.session, None)
    if user.auto_away:
        user.away, user.auto_away = None, False
        world.tell_peers(out, user, out.user_message(user, "AWAY"))


def expired(world: World, time: int) -> list[User]:
    """The detached sessions whose absence passed ``always_on_days`` by ``time``, oldest
    first (they are kept in detach order, which is log order)."""
    horizon = time - world.limits.always_on_days * DAY_MS
    gone = []
    for session in world.detached:
        user = world.users[session]
        if user.detached_since >= horizon:
            break
        gone.append(user)
    return gone


def detached_session_of(world: World, account: str) -> User | None:
    """The detached session logged in to ``account``, if there is one (the oldest)."""
    for user in world.logged_in(account):
        if user.detached_at:
            return user
    return None
