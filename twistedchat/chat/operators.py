"""IRC operators: OPER (verified by the node, replicated as ``@OPER``) and KILL.

Operator names and password hashes come from each node's configuration, never from the
log: the node checks ``OPER name password`` against its own list and proposes only
``@OPER (name)``, as for account logins. Being an operator is then part of the user's
replicated state (WHOIS 313, user mode +o) until they quit or drop it with ``MODE -o``.
"""

from __future__ import annotations

from twistedchat.chat import users
from twistedchat.chat.context import Context
from twistedchat.irc import numerics as N
from twistedchat.irc.message import Message

OPER = "@OPER"  # params: (operator name), proposed after the node checked the password


def oper(ctx: Context) -> None:
    user = ctx.user
    if not ctx.params:
        return
    if not user.oper:
        user.oper = True
        ctx.out.send(user.session, ctx.out.user_message(user, "MODE", user.nick, "+o"))
    ctx.reply(N.RPL_YOUREOPER, f"You are now an IRC operator ({ctx.params[0]})")


def kill(ctx: Context) -> None:
    """``KILL nick :reason``: end someone's session, for operators only."""
    killer = ctx.user
    if not killer.oper:
        ctx.reply(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    if not ctx.need_params(1):
        return
    victim = ctx.world.user_by_nick(ctx.params[0])
    if victim is None:
        ctx.reply(N.ERR_NOSUCHNICK, ctx.params[0], "No such nick/channel")
        return
    reason = ctx.params[1] if len(ctx.params) > 1 and ctx.params[1] else "No reason"
    quit_reason = f"Killed ({killer.nick} ({reason}))"
    closing = Message("ERROR", (f"Closing Link: {victim.host} ({quit_reason})",))
    ctx.out.send(victim.session, closing)
    users.leave(ctx.world, ctx.out, victim, quit_reason, ctx.time)
