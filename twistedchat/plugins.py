"""The plugin host: finds, registers and reloads plugins, and runs their hooks safely.

Plugins are found through the ``twistedchat`` entry-point group and enabled by name
(``--plugin NAME``). The chat state calls the deterministic entry points (``check``,
``command``, ``service``, ``applied``, ``tick``) while it applies an entry; the node calls
the per-node and leader ones. Every hook implementation is called on its own, so one
that raises is logged with its plugin's name and the others still run (see
:mod:`twistedchat.hookspecs` for where each hook runs and why).

Per-channel policy lives in the replicated state under :data:`POLICY_STORE`: channel
operators disable a plugin (``bots``) or one of its commands (``bots/remind``,
``helpme/HELPME``) in their channel with ``PLUGIN #channel DISABLE <key>``.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

import pluggy
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger

from twistedchat import hookspecs
from twistedchat.chat.channels import CHANTYPES
from twistedchat.chat.commands import COMMANDS
from twistedchat.chat.model import World
from twistedchat.chat.outbox import Outbox
from twistedchat.chat.plugin_api import POLICY_STORE, ChatEvent, PluginContext
from twistedchat.hookspecs import Handler
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

log = Logger()

ENTRY_POINT_GROUP = "twistedchat"
POLICY_COMMAND = "PLUGIN"
#: Hooks whose code runs while a committed entry is applied, on every node: the
#: deterministic ones, and the start-up hooks whose handlers run then (see hookspecs).
APPLY_HOOKS = ("chat_check", "chat_commands", "chat_services", "chat_applied", "chat_tick")
_FAILED = object()


class PluginError(Exception):
    """A plugin cannot be used: not installed, bad hooks, or a clashing command."""


def installed() -> dict[str, str]:
    """Plugins installed in this environment: entry-point name -> ``module:object``."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def version(name: str) -> str | None:
    """The version of the distribution that installed plugin ``name``, if one did."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        return ep.dist.version if ep.dist is not None else None
    return None


def load(name: str) -> object:
    """The plugin object for entry point ``name`` (a class is instantiated)."""
    found = [
        ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name
    ]
    if not found:
        known = ", ".join(sorted(installed())) or "none"
        raise PluginError(f"no plugin named {name!r} is installed (installed: {known})")
    try:
        target = found[0].load()
    except Exception as error:
        raise PluginError(f"plugin {name!r} failed to import: {error}") from error
    return target() if isinstance(target, type) else target


class PluginHost:
    """Registered plugins and the tables built from their start-up hooks."""

    def __init__(self, data_dir: str = ".", config: Mapping[str, Mapping[str, Any]] | None = None):
        self.data_dir = data_dir
        self.config: Mapping[str, Mapping[str, Any]] = config or {}
        self.pm = pluggy.PluginManager("twistedchat")
        self.pm.add_hookspecs(hookspecs)
        self.commands: dict[str, tuple[str, Handler]] = {}
        #: folded service nick -> (plugin, nick, handler)
        self.services: dict[str, tuple[str, str, Handler]] = {}
        self.in_flight: set[Deferred[Any]] = set()

    # -- registration ------------------------------------------------------------------

    @classmethod
    def from_names(
        cls, names: list[str], data_dir: str, config: Mapping[str, Mapping[str, Any]]
    ) -> PluginHost:
        host = cls(data_dir, config)
        for name in names:
            host.register(load(name), name)
        return host

    def register(self, plugin: object, name: str) -> None:
        """Add ``plugin``; unknown ``chat_*`` hooks or clashing commands are refused."""
        try:
            self.pm.register(plugin, name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r}: {error}") from error
        self._configure(name)
        try:
            self._rebuild()
        except PluginError:
            self.pm.unregister(name=name)
            self._rebuild()
            raise

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._rebuild()

    def reload(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """Re-register every plugin instance with new configuration (no new code)."""
        self.config = config
        plugins = [(name, plugin) for name, plugin in self.pm.list_name_plugin() if name]
        for name, _ in plugins:
            self.pm.unregister(name=name)
        for name, plugin in plugins:
            self.register(plugin, name)
        log.info("plugins reloaded: {names}", names=self.names())

    def names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name]

    def speaker(self, name: str) -> str:
        """The nick a plugin speaks as: its ``speaker`` attribute, else its name."""
        return str(getattr(self.pm.get_plugin(name), "speaker", name))

    def runs_on_apply(self, name: str) -> bool:
        """Whether plugin ``name`` implements a hook that runs while entries are applied:
        then its code and configuration shape the replicated state, not just its node."""
        return any(
            impl.plugin_name == name
            for hook in APPLY_HOOKS
            for impl in getattr(self.pm.hook, hook).get_hookimpls()
        )

    def _configure(self, name: str) -> None:
        for impl in self.pm.hook.chat_configure.get_hookimpls():
            if impl.plugin_name == name:
                args = {"config": self.config.get(name, {}), "data_dir": self.data_dir}
                impl.function(*[args[arg] for arg in impl.argnames])

    def _rebuild(self) -> None:
        commands: dict[str, tuple[str, Handler]] = {}
        services: dict[str, tuple[str, str, Handler]] = {}
        for impl in self.pm.hook.chat_commands.get_hookimpls():
            table = cast(Mapping[str, Handler], impl.function() or {})
            for command, handler in table.items():
                key = command.upper()
                if key in COMMANDS:
                    raise PluginError(f"command {key} of {impl.plugin_name!r} is a core command")
                if key in commands:
                    raise PluginError(f"command {key} of {impl.plugin_name!r} is taken")
                commands[key] = (impl.plugin_name, handler)
        for impl in self.pm.hook.chat_services.get_hookimpls():
            nicks = cast(Mapping[str, Handler], impl.function() or {})
            for nick, handler in nicks.items():
                if casefold(nick) in services:
                    raise PluginError(f"service {nick} of {impl.plugin_name!r} is taken")
                services[casefold(nick)] = (impl.plugin_name, nick, handler)
        self.commands, self.services = commands, services

    def isupport(self) -> list[str]:
        return [token for tokens in self.pm.hook.chat_isupport() for token in tokens]

    def capabilities(self) -> list[str]:
        return [cap for caps in self.pm.hook.chat_capabilities() for cap in caps]

    # -- deterministic: called by the chat state while it applies an entry -------------

    def handles(self, command: str) -> bool:
        return command in self.commands or command == POLICY_COMMAND

    def check(self, world: World, out: Outbox, event: ChatEvent) -> str | None:
        for impl in self.pm.hook.chat_check.get_hookimpls():
            if not self._enabled(world, impl.plugin_name, event):
                continue
            ctx = self._context(world, out, impl.plugin_name, event)
            reason = self._hook(impl, ctx=ctx)
            if isinstance(reason, str):
                return reason
        return None

    def command(self, world: World, out: Outbox, event: ChatEvent, session: str) -> None:
        """Run the plugin command of ``event`` (refused if disabled in its channel)."""
        if event.command == POLICY_COMMAND:
            _policy_command(world, out, event, session, self.names())
            return
        plugin, handler = self.commands[event.command]
        if not self._enabled(world, plugin, event, event.command):
            text = f"{event.command} is disabled in {event.target}"
            out.send(session, Message("FAIL", (event.command, "DISABLED", text)))
            return
        ctx = self._context(world, out, plugin, event)
        if self._handler(plugin, event.command, handler, ctx, event.params) is _FAILED:
            out.send(session, _plugin_error(event.command, plugin))

    def service_for(self, nick: str) -> bool:
        return casefold(nick) in self.services

    def reserves(self, nick: str) -> bool:
        """Service nicks and plugin speakers cannot be taken by users."""
        folded = casefold(nick)
        return folded in self.services or folded in {
            casefold(self.speaker(n)) for n in self.names()
        }

    def service(self, world: World, out: Outbox, event: ChatEvent, session: str) -> None:
        """A PRIVMSG to a plugin's service nick: the text's words are the parameters."""
        plugin, nick, handler = self.services[casefold(event.params[0])]
        ctx = self._context(world, out, plugin, event, speaker=nick)
        words = tuple(event.text.split())
        if self._handler(plugin, nick, handler, ctx, words) is _FAILED:
            out.send(session, _plugin_error(event.command, plugin))

    def applied(self, world: World, out: Outbox, event: ChatEvent) -> None:
        for impl in self.pm.hook.chat_applied.get_hookimpls():
            if self._enabled(world, impl.plugin_name, event):
                self._hook(impl, ctx=self._context(world, out, impl.plugin_name, event))

    def tick(self, world: World, out: Outbox, event: ChatEvent) -> None:
        for impl in self.pm.hook.chat_tick.get_hookimpls():
            self._hook(impl, ctx=self._context(world, out, impl.plugin_name, event))

    def say(self, world: World, out: Outbox, event: ChatEvent) -> None:
        """Apply a leader hook's answer: ``(plugin, target, text)`` said by its speaker."""
        plugin, target, text = event.params
        if plugin in self.names():
            self._context(world, out, plugin, event).say(target, text)

    # -- the leader and each node ------------------------------------------------------

    def wants_tick(self, world: World) -> bool:
        for impl in self.pm.hook.chat_wants_tick.get_hookimpls():
            store = world.plugin_data.get(impl.plugin_name, {})
            if self._hook(impl, store=store) is True:
                return True
        return False

    def observe(self, event: ChatEvent) -> None:
        """Per node, after apply: run side effects; a Deferred or coroutine runs on."""
        for impl in self.pm.hook.chat_observe.get_hookimpls():
            result = self._hook(impl, event=event)
            self._follow(impl.plugin_name, "chat_observe", result, lambda _: None)

    def leader_observe(self, event: ChatEvent, say: Callable[[str, str, str], None]) -> None:
        """On the leader: answers go to ``say(plugin, target, text)``, i.e. the log."""
        for impl in self.pm.hook.chat_leader_observe.get_hookimpls():
            name = impl.plugin_name
            result = self._hook(impl, event=event)

            def deliver(pairs: Any, name: str = name) -> None:
                for target, text in pairs or ():
                    say(name, str(target), str(text))

            self._follow(name, "chat_leader_observe", result, deliver)

    # -- isolation ---------------------------------------------------------------------

    def _hook(self, impl: pluggy.HookImpl, **kwargs: Any) -> Any:
        """Call one plugin's implementation of a hook with the arguments it asks for."""
        args = [kwargs[name] for name in impl.argnames]
        return self._handler(impl.plugin_name, impl.function.__name__, impl.function, *args)

    def _handler(self, plugin: str, hook: str, function: Callable[..., Any], *args: Any) -> Any:
        """Call plugin code; an exception is logged with the plugin's name, not raised."""
        try:
            return function(*args)
        except Exception:
            log.failure("plugin {plugin} failed in {hook}", plugin=plugin, hook=hook)
            return _FAILED

    def _follow(self, plugin: str, hook: str, result: Any, then: Callable[[Any], None]) -> None:
        if result is None or result is _FAILED:
            return
        if inspect.iscoroutine(result) or isinstance(result, Deferred):
            waiting: Deferred[Any] = ensureDeferred(result)
            self.in_flight.add(waiting)
            waiting.addCallback(then)
            waiting.addErrback(
                lambda failure: log.failure(
                    "plugin {plugin} failed in {hook}", failure, plugin=plugin, hook=hook
                )
            )
            waiting.addBoth(lambda _: self.in_flight.discard(waiting))
        else:
            then(result)

    def _context(
        self, world: World, out: Outbox, plugin: str, event: ChatEvent, speaker: str | None = None
    ) -> PluginContext:
        return PluginContext(world, out, plugin, event, speaker or self.speaker(plugin))

    def _enabled(self, world: World, plugin: str, event: ChatEvent, command: str = "") -> bool:
        """Whether the channel of ``event`` (if any) allows this plugin (and command)."""
        target = event.target or ""
        if target[:1] not in CHANTYPES:
            return True
        disabled = world.plugin_data.get(POLICY_STORE, {}).get(casefold(target), [])
        return plugin not in disabled and f"{plugin}/{command}" not in disabled


def _plugin_error(command: str, plugin: str) -> Message:
    text = f"The {plugin} plugin failed; the error is logged"
    return Message("FAIL", (command, "PLUGIN_ERROR", text))


def _policy_command(
    world: World, out: Outbox, event: ChatEvent, session: str, plugins: list[str]
) -> None:
    """``PLUGIN #chan`` lists; ``PLUGIN #chan ENABLE|DISABLE plugin[/command]`` (ops)."""
    params = event.params
    channel = world.channel(params[0]) if params else None
    if channel is None:
        out.send(session, Message("FAIL", (POLICY_COMMAND, "INVALID_TARGET", "No such channel")))
        return
    key = casefold(channel.name)
    policies = world.plugin_data.setdefault(POLICY_STORE, {})
    disabled: list[str] = policies.get(key, [])
    if len(params) >= 3 and params[1].upper() in ("ENABLE", "DISABLE"):
        member = channel.members.get(session)
        if member is None or not member.op:
            text = "You must be a channel operator to change its plugins"
            out.send(session, Message("FAIL", (POLICY_COMMAND, "NEED_OP", channel.name, text)))
            return
        item = params[2]
        if item.partition("/")[0] not in plugins:
            text = f"No plugin {item.partition('/')[0]!r} is enabled on this server"
            out.send(session, Message("FAIL", (POLICY_COMMAND, "UNKNOWN_PLUGIN", item, text)))
            return
        wanted = [d for d in disabled if d != item]
        if params[1].upper() == "DISABLE":
            wanted.append(item)
        if wanted:
            policies[key] = sorted(wanted)
        else:
            policies.pop(key, None)
        disabled = wanted
    state = ", ".join(f"{p}{' (disabled)' if p in disabled else ''}" for p in plugins)
    details = (
        f"; disabled commands: {', '.join(d for d in disabled if '/' in d)}"
        if any("/" in d for d in disabled)
        else ""
    )
    out.send(session, Message("NOTE", (POLICY_COMMAND, "STATUS", channel.name,
                                       f"Plugins: {state or 'none'}{details}")))  # fmt: skip
