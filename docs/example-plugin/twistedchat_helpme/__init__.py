"""An example plugin: ``/HELPME #channel [text]`` pages the channel's operators.

It adds an IRC command (``HELPME``) and an ISUPPORT token, counts pages in its replicated
store, refuses a page when the sender has no channel in common (a ``chat_check``), and
keeps operators from being paged more than ``limit`` times a minute per user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twistedchat.chat.plugin_api import PluginContext
from twistedchat.hookspecs import hookimpl


class HelpMe:
    """Registered under the entry-point name ``helpme``; speaks as ``HelpDesk``."""

    speaker = "HelpDesk"

    def __init__(self) -> None:
        self.limit = 3

    @hookimpl
    def chat_configure(self, config: Mapping[str, Any]) -> None:
        self.limit = int(config.get("limit", 3))

    @hookimpl
    def chat_commands(self) -> Mapping[str, Callable[[PluginContext, tuple[str, ...]], None]]:
        return {"HELPME": self.helpme}

    @hookimpl
    def chat_isupport(self) -> list[str]:
        return ["HELPME"]

    @hookimpl
    def chat_check(self, ctx: PluginContext) -> str | None:
        event = ctx.event
        if (
            event.command == "HELPME"
            and event.params
            and event.nick not in ctx.members(event.params[0])
        ):
            return f"Join {event.params[0]} to page its operators"
        return None

    def helpme(self, ctx: PluginContext, params: tuple[str, ...]) -> None:
        """Deterministic: runs when the HELPME entry is applied, on every node."""
        if not params:
            ctx.notice(ctx.event.nick, "Usage: HELPME #channel [what you need]")
            return
        channel, text = params[0], " ".join(params[1:]) or "(no details)"
        if ctx.rate_limited("HELPME", self.limit, 60_000):
            ctx.notice(ctx.event.nick, "The operators were paged recently; please wait")
            return
        ctx.store["pages"] = ctx.store.get("pages", 0) + 1
        for nick in ctx.members(channel):
            if ctx.is_op(channel, nick):
                ctx.notice(nick, f"{ctx.event.nick} needs help in {channel}: {text}")
        ctx.notice(ctx.event.nick, f"Paged the operators of {channel}")
