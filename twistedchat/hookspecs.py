# mypy: disable-error-code="empty-body"
"""The hooks twistedchat plugins implement (pluggy project ``twistedchat``).

This is a replicated system, so every hook says where it runs:

* **Deterministic** hooks run while a committed log entry is applied, on every node, in
  log order. They decide what the shared state becomes, so they must depend on nothing
  but their arguments: no clock (use ``ctx.now``), no randomness, no I/O, no iteration
  over sets. Every node then computes the same result, and a bot's reply is delivered
  exactly once to each user, whichever node they are on, across leader changes.
* **Per-node** hooks run on each node after an entry is applied, for side effects outside
  the cluster (write a log file). They may return a Deferred or a coroutine; the node
  keeps going and logs a failure. They must not change the chat.
* **Leader** hooks run once per cluster, on the leader; what they return goes back
  through the log (at most once: a leader that dies mid-call loses the call).
* **Start-up** hooks are called when plugins are (re)registered and must return the same
  on every node of a cluster.

A hook that raises is isolated: the error is logged with the plugin's name, a command it
handled gets ``FAIL <command> PLUGIN_ERROR``, and the other plugins carry on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pluggy

from twistedchat.chat.plugin_api import ChatEvent, PluginContext

hookspec = pluggy.HookspecMarker("twistedchat")
hookimpl = pluggy.HookimplMarker("twistedchat")

#: A plugin command or service handler: the context, then the command's parameters.
Handler = Callable[[PluginContext, tuple[str, ...]], None]


@hookspec
def chat_configure(config: Mapping[str, Any], data_dir: str) -> None:
    """Start-up: receive this plugin's configuration section and the node's data dir.

    Called on registration and again on every reload. What changes deterministic
    behaviour must be configured identically on every node: the section of a plugin with a
    deterministic hook is part of the node's settings fingerprint, so nodes that differ
    in it refuse each other, and a reload that would change it is refused.
    """


@hookspec
def chat_commands() -> Mapping[str, Handler]:
    """Start-up: IRC commands this plugin adds, e.g. ``{"HELPME": handler}``.

    Their handlers are deterministic: they run when the command's entry is applied, on
    every node, with ``ctx.event`` the command. Names must not clash with other commands.
    """


@hookspec
def chat_services() -> Mapping[str, Handler]:
    """Start-up: service nicks this plugin answers, e.g. ``{"ChanServ": handler}``.

    A PRIVMSG to such a nick is handed to the handler (deterministic) with the text split
    into words as parameters, instead of failing with "no such nick".
    """


@hookspec(firstresult=True)
def chat_check(ctx: PluginContext) -> str | None:
    """Deterministic, before a registered user's command is applied: a reason to refuse
    it (the user gets ``FAIL <command> PLUGIN_REFUSED <reason>``), or None to let it pass.
    """


@hookspec
def chat_applied(ctx: PluginContext) -> None:
    """Deterministic, after a registered user's command was applied: react to it (answer a
    bot command, op a channel's founder on JOIN, remember when a nick spoke).
    ``ctx.event.messages`` is what it delivered (empty if it was refused)."""


@hookspec
def chat_tick(ctx: PluginContext) -> None:
    """Deterministic, on each ``@TICK`` entry the leader appends while some plugin wants
    ticks: time-driven replicated actions (fire due reminders once for the cluster)."""


@hookspec(firstresult=True)
def chat_wants_tick(store: Mapping[str, Any]) -> bool | None:
    """Leader, read-only: whether this plugin needs ``@TICK`` entries now, given its store
    (a reminders plugin: while reminders are pending). Keeps an idle log idle."""


@hookspec
def chat_observe(event: ChatEvent) -> Awaitable[None] | None:
    """Per node, after an entry was applied: side effects outside the cluster (logging).

    May return a Deferred or a coroutine."""


@hookspec
def chat_leader_observe(
    event: ChatEvent,
) -> Awaitable[list[tuple[str, str]]] | list[tuple[str, str]] | None:
    """Leader, after an entry was applied: call the outside world once for the cluster;
    return (or resolve to) ``(target, text)`` pairs the plugin's speaker then says, through
    the log."""


@hookspec
def chat_isupport() -> list[str]:
    """Start-up: RPL_ISUPPORT tokens this plugin adds (``NAME`` or ``NAME=value``)."""


@hookspec
def chat_capabilities() -> list[str]:
    """Start-up: IRCv3 capability names this plugin adds to ``CAP LS``."""
