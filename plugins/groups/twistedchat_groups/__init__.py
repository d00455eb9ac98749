"""groups: channel registration and management in the style of ChanServ.

A channel operator who is logged in to an account registers the channel to it
(``/msg ChanServ REGISTER #chan``) and becomes its founder. The founder keeps an access
list of operator accounts (``OP`` / ``DEOP``); founders and listed accounts get channel
operator status when they join, even after everyone left and the channel was recreated.
(Topics and modes outlive an empty channel in the core already.) All of it is replicated
plugin state, changed by deterministic hooks, so every node agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twistedchat.chat.plugin_api import PluginContext
from twistedchat.hookspecs import hookimpl
from twistedchat.wire.casemap import casefold

SERVICE = "ChanServ"
CHANNELS_MAX = 10_000  # registered channels in the cluster
OPS_MAX = 50  # accounts on one channel's access list
Handler = Callable[[PluginContext, tuple[str, ...]], None]


class Groups:
    """The ``groups`` plugin: a ChanServ service plus auto-op and topic keeping."""

    speaker = SERVICE

    @hookimpl
    def chat_services(self) -> Mapping[str, Handler]:
        return {SERVICE: self._command}

    @hookimpl
    def chat_check(self, ctx: PluginContext) -> str | None:
        """A channel may not be renamed to the name of another registered channel."""
        event = ctx.event
        if event.command != "RENAME" or len(event.params) < 2:
            return None
        old, new = casefold(event.params[0]), casefold(event.params[1])
        if old != new and new in _channels(ctx):
            return f"{event.params[1]} is registered to another channel"
        return None

    @hookimpl
    def chat_applied(self, ctx: PluginContext) -> None:
        """On JOIN: op the channel's founder and listed accounts, restore its topic. On
        RENAME: the registration follows the channel to its new name."""
        event = ctx.event
        if event.command == "RENAME":
            _follow_renames(ctx)
            return
        if event.command != "JOIN" or not event.messages or event.account is None:
            return
        for message in event.messages:
            if message.command != "JOIN" or not message.params:
                continue
            record = _channels(ctx).get(casefold(message.params[0]))
            if record is not None and _may_op(record, event.account):
                ctx.set_op(message.params[0], event.nick)

    def _command(self, ctx: PluginContext, words: tuple[str, ...]) -> None:
        verb = words[0].upper() if words else "HELP"
        handler = _COMMANDS.get(verb, _help)
        handler(ctx, words[1:])


def _follow_renames(ctx: PluginContext) -> None:
    channels = _channels(ctx)
    for message in ctx.event.messages:
        if message.command == "RENAME" and len(message.params) >= 2:
            record = channels.pop(casefold(message.params[0]), None)
            if record is not None:
                record["name"] = message.params[1]
                channels[casefold(message.params[1])] = record


def _channels(ctx: PluginContext) -> dict[str, dict[str, Any]]:
    channels: dict[str, dict[str, Any]] = ctx.store.setdefault("channels", {})
    return channels


def _may_op(record: Mapping[str, Any], account: str) -> bool:
    folded = casefold(account)
    return folded == casefold(record["founder"]) or folded in record["ops"]


def _owned(ctx: PluginContext, words: tuple[str, ...]) -> dict[str, Any] | None:
    """The record of the channel in ``words[0]`` if the sender founded it; else says why."""
    if not words:
        ctx.notice(ctx.event.nick, "Which channel?")
        return None
    record = _channels(ctx).get(casefold(words[0]))
    if record is None:
        ctx.notice(ctx.event.nick, f"{words[0]} is not registered")
        return None
    account = ctx.event.account
    if account is None or casefold(account) != casefold(record["founder"]):
        ctx.notice(ctx.event.nick, f"Only the founder of {record['name']} may do that")
        return None
    return record


def _register(ctx: PluginContext, words: tuple[str, ...]) -> None:
    nick, account = ctx.event.nick, ctx.event.account
    if not words:
        ctx.notice(nick, "Usage: REGISTER #channel")
        return
    name = words[0]
    if account is None:
        ctx.notice(nick, "Log in to an account first (NickServ IDENTIFY)")
    elif not ctx.is_op(name, nick):
        ctx.notice(nick, f"You must be an operator of {name} to register it")
    elif casefold(name) in _channels(ctx):
        ctx.notice(nick, f"{name} is already registered")
    elif len(_channels(ctx)) >= CHANNELS_MAX:
        ctx.notice(nick, "No more channels can be registered")
    else:
        _channels(ctx)[casefold(name)] = {"name": name, "founder": account, "ops": [],
                                          "since": ctx.now}  # fmt: skip
        ctx.notice(nick, f"{name} is registered to {account}")


def _op_list(ctx: PluginContext, words: tuple[str, ...], add: bool) -> None:
    record = _owned(ctx, words)
    if record is None:
        return
    if len(words) < 2:
        ctx.notice(ctx.event.nick, f"Usage: {'OP' if add else 'DEOP'} #channel ACCOUNT")
        return
    account = casefold(words[1])
    ops: list[str] = record["ops"]
    if add and account not in ops and len(ops) < OPS_MAX:
        ops.append(account)
    elif not add and account in ops:
        ops.remove(account)
    listed = ", ".join(ops) or "nobody"
    ctx.notice(ctx.event.nick, f"Operators of {record['name']}: {listed}")


def _drop(ctx: PluginContext, words: tuple[str, ...]) -> None:
    record = _owned(ctx, words)
    if record is not None:
        del _channels(ctx)[casefold(record["name"])]
        ctx.notice(ctx.event.nick, f"{record['name']} is no longer registered")


def _info(ctx: PluginContext, words: tuple[str, ...]) -> None:
    record = _channels(ctx).get(casefold(words[0])) if words else None
    if record is None:
        ctx.notice(ctx.event.nick, "Usage: INFO #channel (a registered channel)")
        return
    ops = ", ".join(record["ops"]) or "nobody else"
    ctx.notice(ctx.event.nick, f"{record['name']}: founder {record['founder']}, operators {ops}")


def _help(ctx: PluginContext, words: tuple[str, ...]) -> None:
    ctx.notice(ctx.event.nick, "ChanServ: REGISTER #chan, INFO #chan, OP #chan ACCOUNT, "
                               "DEOP #chan ACCOUNT, DROP #chan")  # fmt: skip


_COMMANDS: dict[str, Handler] = {
    "REGISTER": _register,
    "OP": lambda ctx, words: _op_list(ctx, words, add=True),
    "DEOP": lambda ctx, words: _op_list(ctx, words, add=False),
    "DROP": _drop,
    "INFO": _info,
    "HELP": _help,
}

plugin = Groups
