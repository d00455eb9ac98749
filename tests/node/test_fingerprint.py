"""The settings fingerprint: what it covers, what it leaves out, and how a mismatch reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest
from twisted.logger import LogEvent, formatEvent, globalLogPublisher

from tests.plugins.helpers import host_with
from twistedchat.chat.limits import ChatLimits
from twistedchat.node.fingerprint import (
    DIGEST_CHARS,
    FIX,
    Fingerprint,
    PluginSettings,
    differences,
    plugin_settings,
    refusal,
    settings_fingerprint,
)
from twistedchat.node.options import ChatNodeOptions
from twistedchat.node.service import ChatNodeService

BOTS = PluginSettings("bots", "bot", True, "0.1.0", {"prefix": "!", "admins": ["ann"]})
CHATLOG = PluginSettings("chatlog", "chatlog", False, "0.1.0", {"dir": "/var/log/a"})


DEFAULTS = ChatLimits()


def digest(limits: ChatLimits = DEFAULTS, *plugins: PluginSettings) -> str:
    return settings_fingerprint(limits, plugins).digest


# -- what is in it -----------------------------------------------------------------------


def test_digest_is_short_hex_of_the_canonical_settings() -> None:
    fingerprint = settings_fingerprint(ChatLimits(), [BOTS])
    assert len(fingerprint.digest) == DIGEST_CHARS
    int(fingerprint.digest, 16)
    assert Fingerprint.of(fingerprint.canonical) == fingerprint
    values = fingerprint.values()
    assert values["history_days"] == 30 and values["nicklen"] == 30
    assert values["plugin bots"].startswith("speaker bot, version 0.1.0, config ")
    assert "history_days=30" in fingerprint.describe()


def test_the_same_settings_give_the_same_digest_in_every_process() -> None:
    """No hash seed or dict order may leak into the digest (plugin order does count)."""
    program = (
        "from twistedchat.chat.limits import ChatLimits\n"
        "from twistedchat.node.fingerprint import PluginSettings, settings_fingerprint\n"
        "a = PluginSettings('a', 'a', True, '1', {'x': 1, 'y': [1, 2], 'z': {'q': 1, 'p': 2}})\n"
        "b = PluginSettings('b', 'b', False)\n"
        "print(settings_fingerprint(ChatLimits(history_days=7), [a, b]).digest)\n"
    )
    digests = set()
    for seed in ("1", "2", "3"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True, text=True, check=True, env=environment,
        )  # fmt: skip
        digests.add(result.stdout.strip())
    assert len(digests) == 1
    reordered = PluginSettings("a", "a", True, "1", {"z": {"p": 2, "q": 1}, "y": [1, 2], "x": 1})
    assert digests == {
        digest(ChatLimits(history_days=7), reordered, PluginSettings("b", "b", False))
    }


@pytest.mark.parametrize("name", [f.name for f in fields(ChatLimits)])
def test_every_chat_limit_changes_the_digest(name: str) -> None:
    value = getattr(ChatLimits(), name)
    other = "mandatory" if isinstance(value, str) else value + 1
    changed = replace(ChatLimits(), **{name: other})
    assert digest(changed) != digest()
    ours, theirs = settings_fingerprint(ChatLimits()), settings_fingerprint(changed)
    assert differences(ours, theirs).startswith(f"{name}: ")


def test_plugins_that_run_on_apply_count_with_their_version_and_configuration() -> None:
    base = digest(ChatLimits(), BOTS)
    assert base != digest()
    assert digest(ChatLimits(), replace(BOTS, version="0.2.0")) != base
    assert digest(ChatLimits(), replace(BOTS, config={"prefix": "?", "admins": ["ann"]})) != base
    assert digest(ChatLimits(), replace(BOTS, speaker="robot")) != base


def test_the_order_of_plugins_counts() -> None:
    """pluggy calls hooks in registration order: the first refusal wins, and what plugins
    say on the same entry takes msgids in that order."""
    assert digest(ChatLimits(), BOTS, CHATLOG) != digest(ChatLimits(), CHATLOG, BOTS)


def test_a_per_node_plugin_counts_by_name_and_speaker_only() -> None:
    """Its name is listed and accepted by PLUGIN and its speaker's nick is reserved, both
    while applying; its configuration (say, a log directory) and version are its node's."""
    base = digest(ChatLimits(), CHATLOG)
    assert base != digest()
    assert digest(ChatLimits(), replace(CHATLOG, config={"dir": "/elsewhere"})) == base
    assert digest(ChatLimits(), replace(CHATLOG, version="9.9")) == base
    assert digest(ChatLimits(), replace(CHATLOG, speaker="logger")) != base


def test_installed_plugins_are_classified_by_their_hooks() -> None:
    host = host_with("bots", "chatlog", "groups")
    found = {p.name: p for p in plugin_settings(host, {"chatlog": {"dir": "x"}})}
    assert found["bots"].runs_on_apply and found["groups"].runs_on_apply
    assert not found["chatlog"].runs_on_apply  # chat_observe and chat_configure only
    assert found["chatlog"].config == {"dir": "x"} and found["bots"].config == {}
    assert found["bots"].speaker == "bot" and found["bots"].version == "0.1.0"
    assert plugin_settings(None, {}) == []


# -- from the command line ---------------------------------------------------------------


def service(tmp_path: Path, *args: str) -> ChatNodeService:
    options = ChatNodeOptions()
    options.parseOptions(["--insecure-peers", "--data-dir", str(tmp_path / "data"), *args])
    return ChatNodeService.from_options(options)


def test_per_node_options_leave_the_digest_alone(tmp_path: Path) -> None:
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps({"chatlog": {"dir": str(tmp_path / "mine")}}))
    plain = service(tmp_path, "--plugin", "bots", "--plugin", "chatlog")
    busy = service(
        tmp_path, "--plugin", "bots", "--plugin", "chatlog", "--plugin-config", str(logs),
        "--irc", "tcp:16667:interface=127.0.0.1", "--peer", "tcp:17667:interface=127.0.0.1",
        "--status", "tcp:18667:interface=127.0.0.1", "--name", "elsewhere",
        "--max-clients", "3", "--max-per-address", "2", "--connect-rate", "0",
        "--flood-burst", "3", "--flood-rate", "0", "--registration-timeout", "5",
        "--sendq", "4096", "--election-timeout", "900", "--snapshot-every", "5",
        "--resume-grace", "1", "--dead-node-timeout", "9", "--max-voters", "7",
        "--bootstrap-expect", "3", "--network", "othernet",
    )  # fmt: skip
    assert busy.fingerprint == plain.fingerprint


@pytest.mark.parametrize(
    ("option", "value"),
    [("--history-days", "3"), ("--history-max", "10"), ("--chanlimit", "5"),
     ("--targmax", "2"), ("--plugin", "groups")],
)  # fmt: skip
def test_options_that_shape_the_state_change_the_digest(
    tmp_path: Path, option: str, value: str
) -> None:
    assert service(tmp_path, option, value).fingerprint != service(tmp_path).fingerprint


# -- when they differ --------------------------------------------------------------------


def test_a_refusal_names_both_digests_what_differs_and_the_fix() -> None:
    ours = settings_fingerprint(ChatLimits(), [BOTS])
    theirs = settings_fingerprint(ChatLimits(history_days=3), [])
    why = refusal(ours, theirs.canonical)
    assert f"fingerprint {theirs.digest}, ours {ours.digest}" in why
    assert "history_days: 3 there, 30 here" in why
    assert 'plugin bots: unset there, "speaker bot, version 0.1.0, config ' in why
    assert why.endswith(FIX)


def test_many_differences_are_counted_and_garbage_is_unreadable() -> None:
    ours = settings_fingerprint(ChatLimits())
    theirs = settings_fingerprint(ChatLimits(nicklen=1, topiclen=1, kicklen=1, awaylen=1,
                                             keylen=1, modes=1))  # fmt: skip
    assert differences(ours, theirs).endswith("; and 2 more")
    for garbage in ("", "[1, 2]", "{", "x" * 100_000):
        assert "its settings are unreadable" in refusal(ours, garbage)


class Logged(list[str]):
    def __call__(self, event: LogEvent) -> None:
        self.append(formatEvent(event) or "")


def test_a_reload_that_would_change_the_digest_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "plugins.json"
    config.write_text(json.dumps({"bots": {"prefix": "!"}, "chatlog": {"dir": "a"}}))
    node = service(tmp_path, "--plugin", "bots", "--plugin", "chatlog",
                   "--plugin-config", str(config))  # fmt: skip
    host = node.config.plugins
    assert host is not None
    running = node.fingerprint
    logged = Logged()
    globalLogPublisher.addObserver(logged)
    try:
        config.write_text(json.dumps({"bots": {"prefix": "!"}, "chatlog": {"dir": "b"}}))
        node.reload()  # the chatlog is per node: reloaded
        assert host.config["chatlog"] == {"dir": "b"}
        config.write_text(json.dumps({"bots": {"prefix": "?"}, "chatlog": {"dir": "c"}}))
        node.reload()  # the bots answer on every node: refused as a whole
    finally:
        globalLogPublisher.removeObserver(logged)
    assert host.config == {"bots": {"prefix": "!"}, "chatlog": {"dir": "b"}}
    assert node.fingerprint == running
    (refused,) = [line for line in logged if "reload refused" in line]
    assert running.digest in refused and "plugin bots: " in refused
    assert "in the file" in refused and "running" in refused
