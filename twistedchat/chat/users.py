"""Commands about a user themselves: registration, NICK, AWAY, QUIT, and node restarts."""

from __future__ import annotations

from twistedchat.chat import accounts, alwayson, multiclient, resume
from twistedchat.chat.command import HANDED_TAG, SERVER_TAG, WEB_TAG, Command
from twistedchat.chat.context import Context
from twistedchat.chat.limits import truncate
from twistedchat.chat.model import DOWN_UNKNOWN, User, World, run_of
from twistedchat.chat.outbox import Outbox, numeric
from twistedchat.chat.resume import RESUME_TAG
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message
from twistedchat.wire.names import valid_nick

NODE_RESTARTED = "Node restarted"
NODE_LOST_REASON = "Node lost"


def connect(world: World, out: Outbox, command: Command) -> User | None:
    """Register ``command.session`` with params (nick, user, host, realname[, account]).

    A ``resume`` tag makes the session resumable by the token it is the hash of. A session
    logged in by SASL gets the mail kept for its account after the welcome.

    Two nodes may both have seen a nick free; the log order decides, and the later CONNECT
    gets 433 with target ``*`` so its connection can ask for another nick, unless it is
    logged in as the account of the session holding the nick: then it takes that session
    over (see :func:`twistedchat.chat.resume.reclaim`); that user is returned. A CONNECT
    from a session of an earlier run of its node than the one its last NODE_RESET named
    was proposed by a process that is gone (a delayed retry): registering it would create
    a user nobody is connected as. (The run, not a clock, tells: decision 0020.)
    """
    params = command.message.params
    session = command.session
    current, run = world.node(command.node).run, run_of(session)
    if current and run and run != current:
        return None
    if len(params) < 4:
        out.send(
            session,
            numeric("*", N.ERR_NEEDMOREPARAMS, command.message.command, "Not enough parameters"),
        )
        return None
    nick, username, host, realname = params[:4]
    if not valid_nick(nick, world.limits.nicklen):
        out.send(session, numeric("*", N.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname"))
        return None
    holder = reclaimed_by(world, nick, params[4] if len(params) > 4 else None)
    resumable = RESUME_TAG in command.message.tags  # a further client cannot resume
    if holder is not None and not resumable and multiclient.joins(world, holder):
        multiclient.attach(world, out, command, holder)
        return None
    if holder is not None:
        resume.reclaim(world, out, command, holder)
        return holder
    holder = world.user_by_nick(nick)
    if holder is not None:
        out.send(session, numeric("*", N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use"))
        return None
    realname = truncate(realname, world.limits.namelen)
    user = User(session, command.node, command.seq, nick, username, host, realname)
    user.resume_hash = command.message.tags.get(RESUME_TAG)
    if len(params) > 4:  # the node verified a SASL login for this account
        account = world.accounts.get(casefold(params[4]))
        user.account = None if account is None else account.name
    world.add_user(user)
    out.reply(user, N.RPL_WELCOME, f"Welcome to the Internet Relay Network {user.prefix}")
    accounts.deliver_mail(world, out, user, command.time)
    return None


def reclaimed_by(world: World, nick: str, account: str | None) -> User | None:
    """The session a login to ``account`` asking for ``nick`` takes over or joins: the
    one holding the nick, logged in to that account; else the account's detached
    always-on session, whatever nick was asked for (it gets the session's)."""
    if account is None:
        return None
    holder = world.user_by_nick(nick)
    logged_in = None if holder is None else holder.account
    if holder is not None and logged_in is not None and casefold(logged_in) == casefold(account):
        return holder
    return alwayson.detached_session_of(world, account)


def nick(ctx: Context) -> None:
    user = ctx.user
    if not ctx.params or not ctx.params[0]:
        ctx.reply(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    new = ctx.params[0]
    if not valid_nick(new, ctx.limits.nicklen):
        ctx.reply(N.ERR_ERRONEUSNICKNAME, new, "Erroneous nickname")
        return
    if new == user.nick:
        return
    holder = ctx.world.user_by_nick(new)
    if holder is not None and holder is not user:
        ctx.reply(N.ERR_NICKNAMEINUSE, new, "Nickname is already in use")
        return
    message = ctx.out.user_message(user, "NICK", new)  # from the old prefix
    ctx.world.remember_everywhere(user, ctx.time, message)
    peers = ctx.world.peers(user)
    ctx.world.rename(user, new, ctx.time)
    ctx.out.send(user.session, message)
    ctx.out.send_all((peer.session for peer in peers), message)


def away(ctx: Context) -> None:
    """Set or clear the away message, and tell those sharing a channel (away-notify)."""
    user, text = ctx.user, ctx.params[0] if ctx.params else ""
    if text:
        user.away = truncate(text, ctx.limits.awaylen)
        ctx.reply(N.RPL_NOWAWAY, "You have been marked as being away")
        notice = ctx.out.user_message(user, "AWAY", user.away)
    else:
        user.away = None
        ctx.reply(N.RPL_UNAWAY, "You are no longer marked as being away")
        notice = ctx.out.user_message(user, "AWAY")
    ctx.world.tell_peers(ctx.out, user, notice)


def setname(ctx: Context) -> None:
    """IRCv3 setname: change the realname, and tell the user and those sharing a channel
    (clients without the capability are not told; WHO and WHOIS show the new name)."""
    user = ctx.user
    realname = ctx.params[0] if ctx.params else ""
    if not realname or len(realname.encode()) > ctx.limits.namelen:
        text = f"Realname must be 1 to {ctx.limits.namelen} bytes"
        ctx.out.send(user.session, Message("FAIL", ("SETNAME", "INVALID_REALNAME", text)))
        return
    user.realname = realname
    notice = ctx.out.user_message(user, "SETNAME", realname)
    ctx.world.tell_peers(ctx.out, user, notice)
    ctx.out.send(user.session, notice)


def quit_(ctx: Context) -> None:
    """End the session. The reason is used as given: the connection already wrote
    ``Quit: ...`` around a client's own text, and server reasons (ping timeout, connection
    closed) must stay distinguishable from it.
    """
    reason = ctx.params[0] if ctx.params and ctx.params[0] else "Quit"
    if ctx.user.detached_at:
        return  # its node saw the connection go after the QUIT that detached it
    handed = ctx.message.tags.get(HANDED_TAG, "")
    handed_out = int(handed) if handed.isdigit() else ctx.out.index - 1
    if ctx.origin:  # a further client of the user (multiclient)
        ctx.world.drop_client(ctx.user, ctx.origin)  # seen by nobody
        if ctx.user.clients or not ctx.user.first_gone:
            return  # the user goes on through another of its connections
    depart(ctx.world, ctx.out, ctx.user, reason, handed_out, ctx.time)


def depart(world: World, out: Outbox, user: User, reason: str, handed_out: int, time: int) -> None:
    """The user's own connection went, or its last one (having been handed the log up to
    ``handed_out``): the user goes on through its further clients, stays detached if it
    is always-on, or quits for everyone."""
    if user.clients:
        user.first_gone = True
    elif alwayson.stays(world, user):
        alwayson.detach(world, out, user, handed_out, time)
    else:
        _leave(world, out, user, reason, time, skip_node=None)


def node_reset(world: World, out: Outbox, command: Command) -> list[User]:
    """A node (re)started: its previous sessions are gone. Returns the users removed.

    Their QUITs go only to users of other nodes, since every session of the restarted
    node is gone. Resumable sessions stay: their clients are probably resuming them
    elsewhere, and the restarted node quits the rest after the resume grace period.
    The params are the node's IRC addresses, kept for the status page; its server name
    comes in the :data:`SERVER_TAG` tag, for WHOIS, WHO and LINKS, and the URL of its
    IRC over WebSocket in :data:`WEB_TAG`, for web clients that fail over.
    """
    info = world.node(command.node)
    info.addresses = list(command.message.params)
    info.server = command.message.tags.get(SERVER_TAG, "")
    info.web = command.message.tags.get(WEB_TAG, "")
    info.run = run_of(command.session)
    handed_out = _handed_out(info.down_at, out)
    info.down_at = 0
    stranded = multiclient.lose_node(world, command.node)
    sessions = [world.users[s] for s in info.sessions if not world.users[s].first_gone]
    _keep_always_on(world, out, sessions + stranded, handed_out, command.time)
    gone = [user for user in sessions if user.resume_hash is None and not user.detached_at]
    gone += [user for user in stranded if not user.detached_at]
    for user in gone:
        _leave(world, out, user, NODE_RESTARTED, command.time, skip_node=command.node)
    return gone


def node_lost(world: World, out: Outbox, command: Command) -> list[User]:
    """The cluster gave up on a dead node: its users quit for everyone else.

    Without this, users of a node that never comes back would hold their nicks and
    channel seats forever. Returns the users removed.
    """
    if not command.message.params or command.message.params[0] not in world.nodes:
        return []
    lost = command.message.params[0]
    info = world.node(lost)
    stranded = multiclient.lose_node(world, lost)
    sessions = [world.users[s] for s in info.sessions if not world.users[s].first_gone]
    sessions += stranded
    _keep_always_on(world, out, sessions, _handed_out(info.down_at, out), command.time)
    gone = [user for user in sessions if not user.detached_at]
    for user in gone:
        _leave(world, out, user, NODE_LOST_REASON, command.time, skip_node=lost)
    return gone


def _handed_out(down_at: int, out: Outbox) -> int:
    """What a gone node's clients were last handed: where the leader marked it down if it
    could tell, else everything before this entry (nothing of the gap is replayed)."""
    return down_at if down_at > 0 else out.index - 1


def _keep_always_on(
    world: World, out: Outbox, users: list[User], handed_out: int, time: int
) -> None:
    """Detach the always-on sessions among ``users``, whose node is gone: their clients
    were last handed ``handed_out`` (where the leader marked the node down, if it did)."""
    for user in users:
        if not user.detached_at and alwayson.stays(world, user):
            alwayson.detach(world, out, user, handed_out, time)


def node_down(world: World, command: Command) -> None:
    """The leader hears nothing from a node: note up to where it handed lines out, 0 if
    it cannot tell (the first report counts: a later one, retried meanwhile, knows no
    more)."""
    params = command.message.params
    info = world.nodes.get(params[0]) if len(params) == 2 and params[1].isdigit() else None
    if info is not None and info.down_at == 0:
        info.down_at = int(params[1]) or DOWN_UNKNOWN


def node_up(world: World, command: Command) -> None:
    """The leader hears from a node that was down again."""
    params = command.message.params
    info = world.nodes.get(params[0]) if len(params) == 1 else None
    if info is not None:
        info.down_at = 0


def leave(world: World, out: Outbox, user: User, reason: str, time: int) -> None:
    """End ``user``'s session for everyone, with a QUIT from them."""
    _leave(world, out, user, reason, time, skip_node=None)


def _leave(
    world: World, out: Outbox, user: User, reason: str, time: int, skip_node: str | None
) -> None:
    message = out.user_message(user, "QUIT", reason)
    world.remember_everywhere(user, time, message)
    out.send_all((p.session for p in world.peers(user) if p.node != skip_node), message)
    world.remove_user(user, time)
