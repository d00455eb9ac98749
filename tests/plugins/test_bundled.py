"""The bundled plugins: bots, groups (ChanServ) and chatlog."""

from __future__ import annotations

import json
from pathlib import Path

from tests.chat.helpers import Chat, to
from tests.plugins.helpers import PluginChat, host_with
from twistedchat.chat.command import REGISTER
from twistedchat.chat.passwords import hash_password
from twistedchat.chat.plugin_api import ChatEvent
from twistedchat.wire.message import Message


def test_ping_answers_in_the_channel_and_privately() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("alice", "PRIVMSG #a :!ping")
    assert to(out, "bob")[-1] == ":bot!bot@services. PRIVMSG #a :alice: pong"
    assert to(out, "alice") == [":bot!bot@services. PRIVMSG #a :alice: pong"]
    assert to(chat.send("alice", "PRIVMSG bot :ping"), "alice") == [
        ":bot!bot@services. NOTICE alice :alice: pong"
    ]


def test_seen_and_uptime_read_the_replicated_store() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.send("bob", "PRIVMSG #a :hello")
    chat.time += 90_000
    assert to(chat.send("alice", "PRIVMSG #a :!seen BOB"), "alice")[-1].endswith(
        "bob last spoke 1m 31s ago in #a"
    )
    assert "Up for 1m 3" in to(chat.send("alice", "PRIVMSG #a :!uptime"), "alice")[-1]


def test_reminders_fire_once_on_the_leaders_ticks() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    assert (
        "remind you in 1m 0s" in to(chat.send("alice", "PRIVMSG #a :!remind 1m tea"), "alice")[-1]
    )
    assert chat.host.wants_tick(chat.state.plugin_world())
    assert to(chat.tick(30), "bob") == []
    fired = chat.tick(31)
    assert to(fired, "bob") == [":bot!bot@services. PRIVMSG #a :alice: reminder: tea"]
    assert to(chat.tick(60), "bob") == []
    assert not chat.host.wants_tick(chat.state.plugin_world())


def test_say_is_for_channel_operators() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("op", "alice")
    chat.send("op", "JOIN #a")
    chat.send("alice", "JOIN #a")
    assert to(chat.send("alice", "PRIVMSG #a :!say hi"), "alice")[-1].endswith(
        "!say is for channel operators"
    )
    assert to(chat.send("op", "PRIVMSG #a :!say hi all"), "alice")[-1] == (
        ":bot!bot@services. PRIVMSG #a :hi all"
    )


def login(chat: Chat, session: str, account: str) -> None:
    hashed = hash_password("pw", b"0" * 16)
    chat.apply(chat.command(session, Message(REGISTER, (account, hashed))))


def test_chanserv_registers_a_channel_and_ops_its_founder_on_join() -> None:
    chat = PluginChat(host_with("groups"))
    chat.users("founder", "friend", "other")
    login(chat, "founder", "founder")
    login(chat, "friend", "friend")
    chat.send("founder", "JOIN #home")
    out = chat.send("founder", "PRIVMSG ChanServ :REGISTER #home")
    assert to(out, "founder") == [
        ":ChanServ!ChanServ@services. NOTICE founder :#home is registered to founder"
    ]
    chat.send("founder", "PRIVMSG ChanServ :OP #home friend")
    chat.send("founder", "PART #home")  # the channel is gone now
    assert to(chat.send("other", "PRIVMSG ChanServ :DROP #home"), "other")[-1].endswith(
        "Only the founder of #home may do that"
    )
    chat.send("other", "JOIN #home")  # recreated; `other` is its operator as first in
    joined = chat.send("friend", "JOIN #home")
    assert ":ChanServ!ChanServ@services. MODE #home +o friend" in to(joined, "other")
    assert "@friend" in " ".join(chat.query("friend", "NAMES #home"))


def test_chatlog_writes_znc_and_json_lines_per_channel_and_day(tmp_path: Path) -> None:
    host = host_with("chatlog", data_dir=str(tmp_path))
    chat = PluginChat(host)
    chat.users("alice", "bob")
    script = [
        ("alice", "JOIN #Log"),
        ("bob", "JOIN #log"),
        ("alice", "PRIVMSG #log :hello there"),
        ("bob", "QUIT :bye"),
    ]
    for session, line in script:
        chat.send(session, line)
        assert chat.applied is not None and chat.applied.event is not None
        host.observe(chat.applied.event)
    (folder,) = (tmp_path / "chatlog").iterdir()
    (log_file,) = folder.glob("*.log")
    lines = log_file.read_text().splitlines()
    assert [line[11:] for line in lines] == [
        "*** Joins: alice (~alice@host)",
        "*** Joins: bob (~bob@host)",
        "<alice> hello there",
        "*** Quits: bob (~bob@host) (bye)",
    ]
    records = [json.loads(line) for line in log_file.with_suffix(".jsonl").read_text().splitlines()]
    assert records[2]["params"] == ["#Log", "hello there"] and records[2]["msgid"]


def test_chatlog_deletes_day_files_past_retention(tmp_path: Path) -> None:
    host = host_with("chatlog", data_dir=str(tmp_path))
    host.reload({"chatlog": {"dir": str(tmp_path / "logs"), "retention_days": 2}})
    old = tmp_path / "logs" / "#a" / "2000-01-01.log"
    old.parent.mkdir(parents=True)
    old.write_text("ancient\n")
    event = ChatEvent(1, 1_764_000_000_000, "n1", "alice", None, "PRIVMSG", ("#a", "x"),
                      messages=(Message("PRIVMSG", ("#a", "x"), "alice!a@h", {}),))  # fmt: skip
    host.observe(event)
    assert not old.exists() and len(list(old.parent.glob("*.log"))) == 1


def test_chanserv_registration_follows_a_rename_and_guards_registered_names() -> None:
    chat = PluginChat(host_with("groups"))
    chat.users("founder", "friend")
    login(chat, "founder", "founder")
    login(chat, "friend", "friend")
    for name in ("#home", "#other"):
        chat.send("founder", f"JOIN {name}")
        chat.send("founder", f"PRIVMSG ChanServ :REGISTER {name}")
    chat.send("founder", "PART #other")  # gone, still registered
    refused = chat.send("founder", "RENAME #home #other")
    assert to(refused, "founder") == [
        ":srv FAIL RENAME PLUGIN_REFUSED :#other is registered to another channel"
    ]
    chat.send("founder", "PRIVMSG ChanServ :OP #home friend")
    chat.send("founder", "RENAME #home #house")
    info = chat.send("founder", "PRIVMSG ChanServ :INFO #house")
    assert to(info, "founder") == [
        ":ChanServ!ChanServ@services. NOTICE founder :#house: founder founder, operators friend"
    ]
    registered = chat.state.plugin_world().plugin_data["groups"]["channels"]
    assert list(registered) == ["#other", "#house"]
