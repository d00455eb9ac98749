"""bots: a small bot framework on twistedchat's replicated log, with four example bots.

Bot commands are channel or private messages that start with the prefix (``!``). They are
answered by a deterministic hook while the message's log entry is applied, so every node
computes the same answer and each user gets it exactly once, whichever node they are on
and across leader changes. Reminders live in the replicated store and fire on the
leader's ``@TICK`` entries, once for the cluster.

Configuration (``--plugin-config``, section ``bots``): ``prefix`` (``"!"``), ``rate``
(uses per user and channel, 5), ``rate_seconds`` (10) and ``admins`` (accounts that may
use operator-only commands anywhere). Every node must be given the same configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from twistedchat.chat.plugin_api import PluginContext
from twistedchat.hookspecs import hookimpl
from twistedchat.wire.casemap import casefold

SEEN_KEPT = 10_000  # nicks !seen remembers, least recently seen dropped first
REMINDERS_MAX = 1000  # pending reminders in the whole cluster
REMINDERS_PER_USER = 10
LONGEST_REMINDER_MS = 7 * 24 * 3600 * 1000
_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True, slots=True)
class BotCommand:
    """One ``!command``: who may use it and what it does with the words after it."""

    name: str
    usage: str
    run: Callable[[PluginContext, list[str]], None]
    ops_only: bool = False


class Bots:
    """The ``bots`` plugin: dispatches ``!commands`` and keeps what they need."""

    speaker = "bot"

    def __init__(self) -> None:
        self.prefix = "!"
        self.rate = 5
        self.rate_ms = 10_000
        self.admins: frozenset[str] = frozenset()  # accounts allowed what operators are
        self.commands = {
            command.name: command
            for command in (
                BotCommand("help", "!help: what I can do", self._help),
                BotCommand("ping", "!ping: am I alive?", _ping),
                BotCommand("seen", "!seen NICK: when NICK last spoke", _seen),
                BotCommand("uptime", "!uptime: since when the chat is up", _uptime),
                BotCommand("remind", "!remind 10m TEXT: remind you (s, m, h, d)", _remind),
                BotCommand("say", "!say TEXT: make me say it (channel operators)", _say, True),
            )
        }

    @hookimpl
    def chat_configure(self, config: Mapping[str, Any]) -> None:
        self.prefix = str(config.get("prefix", "!"))
        self.rate = int(config.get("rate", 5))
        self.rate_ms = int(float(config.get("rate_seconds", 10)) * 1000)
        self.admins = frozenset(casefold(a) for a in config.get("admins", ()))

    @hookimpl
    def chat_applied(self, ctx: PluginContext) -> None:
        event = ctx.event
        ctx.store.setdefault("since", ctx.now)
        if event.command != "PRIVMSG" or not event.messages:
            return  # not a message, or one that was refused
        _note_seen(ctx)
        if event.text.startswith(self.prefix):
            self._dispatch(ctx, event.text[len(self.prefix) :].split())

    @hookimpl
    def chat_services(self) -> Mapping[str, Callable[[PluginContext, tuple[str, ...]], None]]:
        """Private messages to the bot: ``/msg bot !ping`` (the prefix is optional)."""
        return {self.speaker: self._private}

    def _private(self, ctx: PluginContext, words: tuple[str, ...]) -> None:
        if words:
            self._dispatch(ctx, [words[0].removeprefix(self.prefix), *words[1:]])

    def _dispatch(self, ctx: PluginContext, words: list[str]) -> None:
        """Run the command named by ``words[0]``, within the channel's rules and limits."""
        event = ctx.event
        name, words = (words[0], words[1:]) if words else ("", [])
        command = self.commands.get(name.lower())
        if command is None or not ctx.allowed(command.name):
            return
        if ctx.rate_limited(command.name, self.rate, self.rate_ms):
            ctx.notice(event.nick, f"Slow down: at most {self.rate} {self.prefix}{name} here "
                                   f"every {self.rate_ms // 1000} s")  # fmt: skip
            return
        if command.ops_only and not self._may_operate(ctx):
            ctx.notice(event.nick, f"{self.prefix}{command.name} is for channel operators")
            return
        command.run(ctx, words)

    @hookimpl
    def chat_tick(self, ctx: PluginContext) -> None:
        """Fire due reminders: each once, on every node alike, at the same entry."""
        pending = ctx.store.get("reminders", [])
        due = [r for r in pending if r[0] <= ctx.now]
        if due:
            ctx.store["reminders"] = [r for r in pending if r[0] > ctx.now]
        for _, target, nick, text in due:
            ctx.say(target, f"{nick}: reminder: {text}")

    @hookimpl
    def chat_wants_tick(self, store: Mapping[str, Any]) -> bool:
        return bool(store.get("reminders"))

    def _may_operate(self, ctx: PluginContext) -> bool:
        """Channel operators of the event's channel, and the configured admin accounts."""
        event = ctx.event
        admin = event.account is not None and casefold(event.account) in self.admins
        return admin or ctx.is_op(event.target or "", event.nick)

    def _help(self, ctx: PluginContext, words: list[str]) -> None:
        names = ", ".join(f"{self.prefix}{name}" for name in self.commands)
        ctx.reply(f"Commands: {names}. {self.prefix}help COMMAND for more.")
        if words and words[0].lower().lstrip(self.prefix) in self.commands:
            ctx.reply(self.commands[words[0].lower().lstrip(self.prefix)].usage)


def _ping(ctx: PluginContext, words: list[str]) -> None:
    ctx.reply(f"{ctx.event.nick}: pong")


def _say(ctx: PluginContext, words: list[str]) -> None:
    target = ctx.event.target or ""
    if target[:1] == "#" and words:
        ctx.say(target, " ".join(words))


def _note_seen(ctx: PluginContext) -> None:
    seen = ctx.store.setdefault("seen", {})
    key = casefold(ctx.event.nick)
    seen.pop(key, None)
    seen[key] = [ctx.event.nick, ctx.now, ctx.event.target or ""]
    while len(seen) > SEEN_KEPT:
        del seen[next(iter(seen))]


def _seen(ctx: PluginContext, words: list[str]) -> None:
    if not words:
        ctx.reply("Usage: !seen NICK")
        return
    record = ctx.store.get("seen", {}).get(casefold(words[0]))
    if record is None:
        ctx.reply(f"I have not seen {words[0]} say anything")
        return
    nick, when, where = record
    ago = _duration(ctx.now - when)
    ctx.reply(f"{nick} last spoke {ago} ago{f' in {where}' if where[:1] == '#' else ''}")


def _uptime(ctx: PluginContext, words: list[str]) -> None:
    since = ctx.store.get("since", ctx.now)
    stamp = datetime.fromtimestamp(since / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    ctx.reply(f"Up for {_duration(ctx.now - since)}, since {stamp}")


def _remind(ctx: PluginContext, words: list[str]) -> None:
    delay = _parse_duration(words[0]) if words else None
    if delay is None or len(words) < 2 or not 0 < delay <= LONGEST_REMINDER_MS:
        ctx.reply("Usage: !remind 10m TEXT (s, m, h or d; at most 7 days)")
        return
    reminders: list[list[Any]] = ctx.store.setdefault("reminders", [])
    nick = ctx.event.nick
    mine = sum(1 for r in reminders if casefold(r[2]) == casefold(nick))
    if len(reminders) >= REMINDERS_MAX or mine >= REMINDERS_PER_USER:
        ctx.reply("Too many reminders are pending; try again later")
        return
    target = ctx.event.target or nick
    reply_to = target if target[:1] == "#" else nick
    reminders.append([ctx.now + delay, reply_to, nick, " ".join(words[1:])])
    reminders.sort(key=lambda r: r[0])
    ctx.reply(f"{nick}: I will remind you in {_duration(delay)}")


def _parse_duration(text: str) -> int | None:
    unit = _UNITS.get(text[-1:].lower())
    if unit is None or not text[:-1].isdigit():
        return None
    return int(text[:-1]) * unit


def _duration(ms: int) -> str:
    """``2s``, ``1m 30s``, ``3h 5m``, ``2d 4h``: the two largest units, from the first non-zero."""
    seconds = max(ms, 0) // 1000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    first = next((i for i, (value, _) in enumerate(units) if value), len(units) - 1)
    return " ".join(f"{value}{unit}" for value, unit in units[first : first + 2])


plugin = Bots
