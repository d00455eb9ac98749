"""The plugin host: registration rules, isolation, policy, determinism, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chat.helpers import to
from tests.plugins.helpers import PluginChat, host_with
from twistedchat.chat.plugin_api import ChatEvent, PluginContext
from twistedchat.chat.state import ChatState
from twistedchat.hookspecs import hookimpl
from twistedchat.plugins import PluginError, PluginHost, installed


class Typo:
    @hookimpl
    def chat_aplied(self, ctx: PluginContext) -> None:  # a misspelt hook name
        pass


class Crashing:
    speaker = "crash"

    @hookimpl
    def chat_commands(self) -> dict[str, Any]:
        return {"BOOM": self.boom}

    @hookimpl
    def chat_applied(self, ctx: PluginContext) -> None:
        raise RuntimeError("broken on every event")

    def boom(self, ctx: PluginContext, params: tuple[str, ...]) -> None:
        raise ValueError("boom")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def chat_applied(self, ctx: PluginContext) -> None:
        self.seen.append(ctx.event.command)

    @hookimpl
    def chat_observe(self, event: ChatEvent) -> None:
        self.seen.append(f"observed {event.command}")


def test_bundled_and_example_plugins_are_found_by_entry_point() -> None:
    assert {"bots", "chatlog", "groups", "helpme"} <= installed().keys()
    with pytest.raises(PluginError, match="no plugin named 'nope'"):
        host_with("nope")


def test_unknown_hooks_and_clashing_commands_are_refused_at_start_up() -> None:
    with pytest.raises(PluginError, match="chat_aplied"):
        host_with(typo=Typo())
    host = host_with("helpme")
    clash = type("Clash", (), {"chat_commands": hookimpl(lambda self: {"helpme": print})})()
    with pytest.raises(PluginError, match="HELPME"):
        host.register(clash, "clash")
    assert host.names() == ["helpme"]  # the refused plugin is not half registered


def test_a_plugin_command_runs_at_apply_time_with_its_check_and_state() -> None:
    chat = PluginChat(host_with("helpme"))
    chat.users("op", "alice", "eve")
    chat.send("op", "JOIN #help")
    chat.send("alice", "JOIN #help")
    paged = chat.send("alice", "HELPME #help :printer on fire")
    assert to(paged, "op") == [
        ":HelpDesk!HelpDesk@services. NOTICE op :alice needs help in #help: printer on fire"
    ]
    assert to(paged, "alice")[-1].endswith("Paged the operators of #help")
    refused = chat.send("eve", "HELPME #help")
    assert to(refused, "eve") == [
        ":srv FAIL HELPME PLUGIN_REFUSED :Join #help to page its operators"
    ]
    assert chat.state.plugin_world().plugin_data["helpme"]["pages"] == 1
    assert "HELPME" in chat.host.isupport()


def test_a_crashing_plugin_is_isolated() -> None:
    recorder = Recorder()
    chat = PluginChat(host_with(crash=Crashing(), recorder=recorder))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("alice", "BOOM")
    assert to(out, "alice") == [
        ":srv FAIL BOOM PLUGIN_ERROR :The crash plugin failed; the error is logged"
    ]
    assert to(chat.send("alice", "PRIVMSG #a :still fine"), "bob") == [
        ":alice!~alice@host PRIVMSG #a :still fine"
    ]
    assert recorder.seen[-2:] == ["BOOM", "PRIVMSG"]  # the other plugin still ran


def test_services_and_speakers_reserve_their_nicks() -> None:
    chat = PluginChat(host_with("groups", "bots"))
    chat.users("alice")
    assert to(chat.send("alice", "NICK chanserv"), "alice") == [
        ":srv 433 alice chanserv :Nickname is reserved for a service"
    ]
    assert [d.message.command for d in chat.connect("s2", "Bot")] == ["433"]


def test_channel_operators_disable_a_plugin_or_one_command_in_their_channel() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("op", "alice")
    chat.send("op", "JOIN #a")
    chat.send("alice", "JOIN #a")
    assert to(chat.send("alice", "PLUGIN #a DISABLE bots"), "alice")[0].startswith(
        ":srv FAIL PLUGIN NEED_OP"
    )
    assert "bots (disabled)" in to(chat.send("op", "PLUGIN #a DISABLE bots"), "op")[0]
    assert to(chat.send("alice", "PRIVMSG #a :!ping"), "alice") == []
    chat.send("op", "PLUGIN #a ENABLE bots")
    chat.send("op", "PLUGIN #a DISABLE bots/ping")
    assert to(chat.send("alice", "PRIVMSG #a :!ping"), "alice") == []
    assert to(chat.send("alice", "PRIVMSG #a :!uptime"), "alice")[0].startswith(
        ":bot!bot@services."
    )
    assert "disabled commands: bots/ping" in to(chat.send("alice", "PLUGIN #a"), "alice")[0]


def test_rate_limits_run_on_log_time() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    replies = [to(chat.send("alice", "PRIVMSG #a :!ping"), "alice") for _ in range(6)]
    assert [r[0].endswith("alice: pong") for r in replies[:5]] == [True] * 5
    assert "Slow down" in replies[5][0]
    chat.time += 10_000  # log time, the same on every node
    assert to(chat.send("alice", "PRIVMSG #a :!ping"), "alice")[0].endswith("alice: pong")


def test_reload_re_registers_plugins_with_new_configuration() -> None:
    host = host_with("bots")
    chat = PluginChat(host)
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    host.reload({"bots": {"prefix": "?"}})
    assert to(chat.send("alice", "PRIVMSG #a :!ping"), "alice") == []
    assert to(chat.send("alice", "PRIVMSG #a :?ping"), "alice")[0].endswith("alice: pong")


def test_plugin_state_is_in_snapshots() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.send("bob", "PRIVMSG #a :hello")
    restored = ChatState.restore(chat.state.snapshot(), chat.state.limits, chat.host)
    assert restored.snapshot() == chat.state.snapshot()
    chat.state = restored
    assert "bob last spoke" in to(chat.send("alice", "PRIVMSG #a :!seen bob"), "alice")[0]


def test_observe_and_leader_hooks_run_outside_apply() -> None:
    said: list[tuple[str, str, str]] = []

    class Oracle:
        @hookimpl
        def chat_leader_observe(self, event: ChatEvent) -> list[tuple[str, str]]:
            return [("#a", f"{event.nick} said something")] if event.command == "PRIVMSG" else []

    recorder = Recorder()
    host = host_with(oracle=Oracle(), recorder=recorder)
    event = ChatEvent(1, 0, "n1", "alice", None, "PRIVMSG", ("#a", "hi"))
    host.observe(event)
    host.leader_observe(event, lambda *answer: said.append(answer))
    assert recorder.seen == ["observed PRIVMSG"]
    assert said == [("oracle", "#a", "alice said something")]


def test_an_empty_host_changes_nothing() -> None:
    host = PluginHost()
    chat = PluginChat(host)
    chat.users("alice")
    assert to(chat.send("alice", "PLUGIN #nowhere"), "alice")[0].startswith(":srv FAIL PLUGIN")


def test_a_plugin_may_not_take_a_core_command() -> None:
    """The command table is the core's; a plugin adds commands, it does not replace them."""

    class Shadow:
        @hookimpl
        def chat_commands(self) -> dict[str, Any]:
            return {"join": lambda ctx: None}

    host = PluginHost()
    with pytest.raises(PluginError, match="JOIN of 'shadow' is a core command"):
        host.register(Shadow(), "shadow")
    assert "shadow" not in [name for name, _ in host.pm.list_name_plugin()]
