"""The settings fingerprint: what decides how this node applies the log, in one string.

Replicas stay identical only if every node applies every entry by the same rules, and some
of those rules come from each node's command line. :func:`settings_fingerprint` gathers
them into a flat mapping, renders it as canonical JSON (which the peer Hello carries, so a
refusal can name the values that differ) and hashes that into a short digest (which
discovery datagrams and ``/status`` carry). Nodes whose settings differ refuse each other;
see docs/decisions/0014-settings-fingerprint.md.

In it:

- every :class:`~twistedchat.chat.limits.ChatLimits` field (``--history-days``,
  ``--history-max``, ``--chanlimit``, ``--targmax`` and the built-in sizes), found with
  :func:`dataclasses.fields`, so a new limit is covered without a change here;
- every enabled plugin's name and speaker, whatever its hooks: applying ``PLUGIN #chan``
  lists and accepts the enabled plugins, and speakers' nicks are refused to users;
- for a plugin with hooks that run while entries are applied
  (:data:`~twistedchat.plugins.APPLY_HOOKS`), its version and a hash of its
  ``--plugin-config`` section, which may change what those hooks do. A plugin with only
  per-node or leader hooks (``chatlog``) may be configured, and upgraded, node by node;
- the format the node writes commands in (:data:`~twistedchat.chat.command.BINARY`, decision
  0021): a node of an earlier version, which cannot read them, is refused up front rather
  than stopped by the first entry it cannot apply.

Per-node settings (addresses, TLS files, ``--max-clients``, operators, flood and connection
limits, timers) stay out: they shape what a node does with its clients, not the state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from twistedchat import plugins
from twistedchat.chat.command import BINARY
from twistedchat.chat.limits import ChatLimits

#: Hex digits of the digest: 64 bits tell settings apart; it is no security boundary.
DIGEST_CHARS = 16
#: Hex digits of a plugin configuration's hash (its values never leave the node).
CONFIG_DIGEST_CHARS = 8
#: A peer's settings longer than this are not parsed (they only feed a log line).
MAX_CANONICAL = 64 * 1024
#: Differences a refusal names; the rest are counted.
SHOWN_DIFFERENCES = 4
#: What an operator does about a mismatch.
FIX = (
    "give every node the same --history-max, --history-days, --always-on, --always-on-days, "
    "--chanlimit, --targmax, "
    "--plugin and --plugin-config (each node's /status shows its settings)"
)
_UNSET = object()


@dataclass(frozen=True, slots=True)
class PluginSettings:
    """What of one enabled plugin can change what applying an entry does."""

    name: str
    speaker: str
    runs_on_apply: bool
    version: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Settings as canonical JSON (``canonical``), and the short hash of that (``digest``)."""

    canonical: str
    digest: str

    @classmethod
    def of(cls, canonical: str) -> Fingerprint:
        """The fingerprint of settings rendered by :func:`settings_fingerprint` (ours or
        a peer's: its Hello carries ``canonical``)."""
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]
        return cls(canonical, digest)

    def values(self) -> dict[str, Any]:
        """The settings by name; empty if ``canonical`` is not a JSON object (a bad peer)."""
        if len(self.canonical) > MAX_CANONICAL:
            return {}
        try:
            values = json.loads(self.canonical)
        except (ValueError, RecursionError):
            return {}
        return values if isinstance(values, dict) else {}

    def describe(self) -> str:
        """``name=value`` pairs on one line, for people."""
        values = self.values()
        return ", ".join(f"{name}={_shown(values, name)}" for name in values)


def settings_fingerprint(
    limits: ChatLimits, plugin_list: Iterable[PluginSettings] = ()
) -> Fingerprint:
    """The fingerprint of everything here that changes what applying an entry does."""
    values: dict[str, Any] = {f.name: getattr(limits, f.name) for f in fields(limits)}
    enabled = list(plugin_list)
    for plugin in enabled:
        values[f"plugin {plugin.name}"] = _plugin_value(plugin)
    # pluggy calls hooks in registration order: it decides which plugin's refusal wins and
    # the order (and msgids) of what plugins say, so it is part of the rules too.
    values["plugin order"] = [plugin.name for plugin in enabled]
    values["command format"] = BINARY
    return Fingerprint.of(_canonical(values))


def plugin_settings(
    host: plugins.PluginHost | None, config: Mapping[str, Mapping[str, Any]]
) -> list[PluginSettings]:
    """What goes in the fingerprint of ``host``'s plugins configured with ``config`` (the
    running configuration, or the one a reload would apply)."""
    if host is None:
        return []
    return [
        PluginSettings(
            name,
            host.speaker(name),
            host.runs_on_apply(name),
            plugins.version(name),
            config.get(name, {}),
        )
        for name in host.names()
    ]


def refusal(ours: Fingerprint, theirs: str) -> str:
    """Why a node whose settings render as ``theirs`` cannot share a log with us: both
    fingerprints, the values that differ, and what to do about it."""
    other = Fingerprint.of(theirs)
    return (
        f"it applies the log with other settings (fingerprint {other.digest}, ours "
        f"{ours.digest}: {differences(ours, other)}); {FIX}"
    )


def differences(
    ours: Fingerprint, theirs: Fingerprint, there: str = "there", here: str = "here"
) -> str:
    """``name: THEIRS there, OURS here`` for the first few settings that differ."""
    mine, yours = ours.values(), theirs.values()
    if not yours:
        return "its settings are unreadable"
    names = sorted(
        name
        for name in mine.keys() | yours.keys()
        if mine.get(name, _UNSET) != yours.get(name, _UNSET)
    )
    shown = [
        f"{name}: {_shown(yours, name)} {there}, {_shown(mine, name)} {here}"
        for name in names[:SHOWN_DIFFERENCES]
    ]
    if len(names) > SHOWN_DIFFERENCES:
        shown.append(f"and {len(names) - SHOWN_DIFFERENCES} more")
    return "; ".join(shown) or "the same values, rendered differently"


def _plugin_value(plugin: PluginSettings) -> str:
    if not plugin.runs_on_apply:
        return f"speaker {plugin.speaker}, per-node hooks only"
    config = hashlib.sha256(_canonical(plugin.config).encode()).hexdigest()
    return (
        f"speaker {plugin.speaker}, version {plugin.version or 'unknown'}, "
        f"config {config[:CONFIG_DIGEST_CHARS]}"
    )


def _canonical(value: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _shown(values: Mapping[str, Any], name: str) -> str:
    return _canonical(values[name]) if name in values else "unset"
