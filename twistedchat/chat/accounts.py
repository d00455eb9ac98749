"""Accounts: registration and login, applied from the log.

Both arrive as internal commands the node builds after handling the password itself
(:mod:`twistedchat.chat.passwords`): ``@REGISTER (account, hash[, NickServ])`` and
``@LOGIN (account,)``. A registration asked of NickServ (the third param) is answered
by NickServ's NOTICEs, as a client that never negotiated ``draft/account-registration``
understands them; one by ``REGISTER`` with ``REGISTER SUCCESS`` or ``FAIL REGISTER``.
``@REHASH (account, old hash, new hash)`` replaces a hash of an older
format or lower cost, made by the node that just checked the password of a login.
Clients cannot send them: a client line cannot start a command with ``@``.
Replies follow IRCv3 ``draft/account-registration`` and the SASL numerics (900). Any
login, SASL on ``CONNECT`` included, hands over the mail kept for the account
(:mod:`twistedchat.chat.mailbox`).
"""

from __future__ import annotations

from dataclasses import dataclass

from twistedchat.chat import alwayson, nickguard
from twistedchat.chat.context import Context
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.chat.passwords import is_password_hash
from twistedchat.chat.service import SERVICE, SERVICE_PREFIX
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message
from twistedchat.wire.names import valid_nick


@dataclass(slots=True)
class Account:
    name: str
    password_hash: str
    registered_at: int
    always_on: bool | None = None  # NickServ SET ALWAYS-ON; None: the server's default


#: What NickServ SET ALWAYS-ON takes, and what each means for :attr:`Account.always_on`.
ALWAYS_ON_CHOICES = {"ON": True, "OFF": False, "DEFAULT": None}


def set_option(ctx: Context) -> None:
    """NickServ ``SET ALWAYS-ON [ON|OFF|DEFAULT]`` for the session's account (the only
    option so far); without a value, says what it is. Answered by NickServ's NOTICEs."""
    user = ctx.user
    account = None if user.account is None else ctx.world.accounts.get(casefold(user.account))
    option = ctx.params[0].upper() if ctx.params else ""
    value = ctx.params[1].upper() if len(ctx.params) > 1 else None
    mode = ctx.limits.always_on
    if account is None:
        text = "You are not logged in."
    elif option != "ALWAYS-ON":
        text = "Options: ALWAYS-ON [ON|OFF|DEFAULT]."
    elif value is not None and value not in ALWAYS_ON_CHOICES:
        text = "ALWAYS-ON takes ON, OFF or DEFAULT."
    elif value is not None and mode in ("off", "mandatory"):
        text = f"Always-on is {'off' if mode == 'off' else 'mandatory'} on this network."
    else:
        if value is not None:
            account.always_on = ALWAYS_ON_CHOICES[value]
        on = alwayson.enabled(ctx.world, user)
        text = (
            f"ALWAYS-ON is {'on' if on else 'off'} for {account.name}"
            f"{' (the network default)' if account.always_on is None else ''}: your session "
            + ("stays in its channels when your client leaves." if on else "ends with your client.")
        )
    ctx.out.send(user.session, Message("NOTICE", (user.nick, text), SERVICE_PREFIX))


def register(ctx: Context) -> None:
    if len(ctx.params) < 2:
        return
    name, password_hash = ctx.params[0], ctx.params[1]
    by_service = ctx.params[2:3] == (SERVICE,)
    accounts = ctx.world.accounts
    if ctx.user.account is not None:
        _fail(ctx, by_service, "ALREADY_AUTHENTICATED", name, "You are already logged in")
    elif not valid_nick(name, ctx.limits.nicklen):
        _fail(ctx, by_service, "BAD_ACCOUNT_NAME", name, "Account names follow the rules of nicks")
    elif casefold(name) in accounts:
        _fail(ctx, by_service, "ACCOUNT_EXISTS", name, "That account is already registered")
    elif len(accounts) >= ctx.limits.max_accounts:
        _fail(
            ctx, by_service, "TEMPORARILY_UNAVAILABLE", name, "No more accounts can be registered"
        )
    else:
        accounts[casefold(name)] = Account(name, password_hash, ctx.time)
        if by_service:
            text = f"Account {name} registered; you are now logged in as {name}."
            ctx.out.send(ctx.user.session, Message("NOTICE", (ctx.user.nick, text), SERVICE_PREFIX))
        else:
            ctx.out.send(ctx.user.session, Message("REGISTER", ("SUCCESS", name, "Registered")))
        _log_in(ctx, name)
        holder = ctx.world.user_by_nick(name)
        if holder is not None and holder is not ctx.user:
            nickguard.review(ctx.world, ctx.out, holder, ctx.time)


def login(ctx: Context) -> None:
    """The node verified the password against its replica; apply it if still valid."""
    account = ctx.world.accounts.get(casefold(ctx.params[0])) if ctx.params else None
    if account is None:
        ctx.reply(N.ERR_SASLFAIL, "Authentication failed")
    elif ctx.user.account is None:
        _log_in(ctx, account.name)


def rehash(ctx: Context) -> None:
    """Replace an account's hash with one of the current cost, made from the password a
    login just proved; silent (the user asked for nothing).

    Applied only by a session logged in to that account, only if the stored hash is
    still the one the node checked (compare and set: a hash that changed meanwhile is
    newer than this upgrade) and only with a well-formed hash. All three are read from
    the state and the entry, so every replica decides the same.
    """
    if len(ctx.params) < 3:
        return
    name, old, new = ctx.params[0], ctx.params[1], ctx.params[2]
    account = ctx.world.accounts.get(casefold(name))
    if account is None or ctx.user.account is None:
        return
    if casefold(ctx.user.account) != casefold(account.name) or account.password_hash != old:
        return
    if is_password_hash(new):
        account.password_hash = new


def _log_in(ctx: Context, name: str) -> None:
    user = ctx.user
    ctx.world.log_in(user, name)
    ctx.reply(N.RPL_LOGGEDIN, user.prefix, name, f"You are now logged in as {name}")
    notice = ctx.out.user_message(user, "ACCOUNT", name)  # account-notify
    ctx.world.tell_peers(ctx.out, user, notice)
    deliver_mail(ctx.world, ctx.out, user, ctx.time)


def deliver_mail(world: World, out: Outbox, user: User, time: int) -> None:
    """Hand ``user``, just logged in, the messages kept for their account, oldest first,
    as they were sent (source, ``time`` and ``msgid``), and empty the mailbox.

    They are ``separate`` deliveries: not part of the answer to the login (nor of the
    welcome, for SASL), so they reach the client after it.
    """
    if user.account is None:
        return
    for kept in world.mail.take(user.account, time):
        out.send(user.session, kept.message, separate=True)


def _fail(ctx: Context, by_service: bool, code: str, name: str, text: str) -> None:
    if by_service:
        ctx.out.send(
            ctx.user.session, Message("NOTICE", (ctx.user.nick, f"{text}."), SERVICE_PREFIX)
        )
    else:
        ctx.out.send(ctx.user.session, Message("FAIL", ("REGISTER", code, name, text)))
