"""chatlog: each node writes per-channel, per-day log files of what its replica applied.

A per-node hook: logging is a side effect outside the cluster, and every node's files are
identical because every node applies the same entries. Two formats side by side, in
``<dir>/<channel>/<YYYY-MM-DD>``:

* ``.log``: the ZNC log format (``[HH:MM:SS] <nick> text``, ``*** Joins: nick (user@host)``,
  ...), which log viewers and ``grep`` users already know;
* ``.jsonl``: one JSON object per event (time, msgid, nick, command, params), for tools.

Configuration (section ``chatlog``): ``dir`` (``DATA-DIR/chatlog``), ``retention_days``
(30; older day files are deleted when a channel starts a new day), ``json`` (true).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twistedchat.chat.plugin_api import ChatEvent
from twistedchat.hookspecs import hookimpl
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

_UNSAFE = re.compile(r"[^\w#&+!.-]")


class ChatLog:
    """The ``chatlog`` plugin."""

    def __init__(self) -> None:
        self.directory = Path("chatlog")
        self.retention = timedelta(days=30)
        self.write_json = True
        self._days: dict[str, str] = {}  # channel dir -> the day it last wrote

    @hookimpl
    def chat_configure(self, config: Mapping[str, Any], data_dir: str) -> None:
        self.directory = Path(config.get("dir") or Path(data_dir) / "chatlog")
        self.retention = timedelta(days=float(config.get("retention_days", 30)))
        self.write_json = bool(config.get("json", True))

    @hookimpl
    def chat_observe(self, event: ChatEvent) -> None:
        for message in event.messages:
            when = datetime.fromtimestamp(event.time / 1000, UTC)
            for channel in _channels_of(message, event):
                self._write(channel, when, message)

    def _write(self, channel: str, when: datetime, message: Message) -> None:
        folder = self.directory / _UNSAFE.sub("_", casefold(channel))
        day = when.strftime("%Y-%m-%d")
        if self._days.get(str(folder)) != day:
            folder.mkdir(parents=True, exist_ok=True)
            self._days[str(folder)] = day
            self._expire(folder, when)
        line = _znc_line(message, when)
        if line is not None:
            with open(folder / f"{day}.log", "a", encoding="utf-8") as log_file:
                log_file.write(line + "\n")
        if self.write_json:
            record = {
                "time": message.tags.get("time"),
                "msgid": message.tags.get("msgid"),
                "nick": (message.source or "").partition("!")[0],
                "command": message.command,
                "params": list(message.params),
            }
            with open(folder / f"{day}.jsonl", "a", encoding="utf-8") as json_file:
                json_file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _expire(self, folder: Path, now: datetime) -> None:
        """Delete this channel's day files older than the retention period."""
        oldest = (now - self.retention).strftime("%Y-%m-%d")
        for path in folder.iterdir():
            if path.suffix in (".log", ".jsonl") and path.stem < oldest:
                path.unlink(missing_ok=True)


def _channels_of(message: Message, event: ChatEvent) -> list[str]:
    """The channels a delivered message belongs in (a QUIT or NICK: the sender's)."""
    if message.command in ("QUIT", "NICK"):
        return list(event.channels)
    target = message.params[0] if message.params else ""
    return [target] if target[:1] in "#&" else []


def _znc_line(message: Message, when: datetime) -> str | None:
    nick, _, userhost = (message.source or "").partition("!")
    stamp = when.strftime("[%H:%M:%S]")
    params = message.params
    text = params[-1] if params else ""
    lines = {
        "PRIVMSG": lambda: (
            f"{stamp} * {nick} {text[8:-1]}"
            if text.startswith("\x01ACTION ") and text.endswith("\x01")
            else f"{stamp} <{nick}> {text}"
        ),
        "NOTICE": lambda: f"{stamp} -{nick}- {text}",
        "JOIN": lambda: f"{stamp} *** Joins: {nick} ({userhost})",
        "PART": lambda: (
            f"{stamp} *** Parts: {nick} ({userhost}) ({text if len(params) > 1 else ''})"
        ),
        "QUIT": lambda: f"{stamp} *** Quits: {nick} ({userhost}) ({text})",
        "NICK": lambda: f"{stamp} *** {nick} is now known as {text}",
        "TOPIC": lambda: f"{stamp} *** {nick} changes topic to '{text}'",
        "KICK": lambda: f"{stamp} *** {params[1]} was kicked by {nick} ({text})",
        "MODE": lambda: f"{stamp} *** {nick} sets mode: {' '.join(params[1:])}",
    }
    render = lines.get(message.command)
    return None if render is None else render()


plugin = ChatLog
