"""draft/metadata-3 in the chat core: keys on users and channels, written through the log."""

from __future__ import annotations

import json

from tests.chat.helpers import Chat, parse, to
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.model import MetadataChange
from twistedchat.chat.state import ChatState


def test_a_user_sets_gets_lists_and_clears_their_own_keys() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    assert to(chat.send("alice", "METADATA * SET url :https://example.org/a"), "alice") == [
        ":srv 761 alice alice url * https://example.org/a"
    ]
    chat.send("alice", "METADATA alice SET display-name :Alice A")
    assert chat.query("bob", "METADATA alice GET url nope") == [
        ":srv BATCH +metadata metadata alice",
        ":srv 761 bob alice url * https://example.org/a",
        ":srv 766 bob alice nope :Key not set",
        ":srv BATCH -metadata",
    ]
    assert chat.query("alice", "METADATA * LIST")[1:3] == [
        ":srv 761 alice alice url * https://example.org/a",
        ":srv 761 alice alice display-name * :Alice A",
    ]
    assert to(chat.send("alice", "METADATA * SET url"), "alice") == [
        ":srv 766 alice alice url :Key deleted"
    ]
    assert to(chat.send("alice", "METADATA * CLEAR"), "alice") == [
        ":srv BATCH +metadata metadata alice",
        ":srv 766 alice alice display-name :Key deleted",
        ":srv BATCH -metadata",
    ]
    assert chat.query("alice", "METADATA * LIST") == [
        ":srv BATCH +metadata metadata alice",
        ":srv BATCH -metadata",
    ]


def test_nobody_sets_another_users_keys_but_an_irc_operator() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    assert to(chat.send("bob", "METADATA alice SET url :x"), "bob") == [
        ":srv FAIL METADATA KEY_NO_PERMISSION alice url :Permission denied"
    ]
    assert to(chat.send("bob", "METADATA alice CLEAR"), "bob") == [
        ":srv FAIL METADATA KEY_NO_PERMISSION alice * :Permission denied"
    ]
    chat.state._world.users["bob"].oper = True
    assert to(chat.send("bob", "METADATA alice SET url :x"), "bob") == [
        ":srv 761 bob alice url * x"
    ]
    assert to(chat.send("bob", "METADATA nobody SET url :x"), "bob") == [
        ":srv FAIL METADATA INVALID_TARGET nobody :Invalid metadata target"
    ]


def test_channel_keys_are_set_by_its_operators_and_read_by_its_members() -> None:
    chat = Chat()
    chat.users("op", "bob", "out")
    chat.send("op", "JOIN #a")
    chat.send("bob", "JOIN #a")
    assert to(chat.send("bob", "METADATA #a SET url :x"), "bob") == [
        ":srv FAIL METADATA KEY_NO_PERMISSION #a url :Permission denied"
    ]
    assert to(chat.send("op", "METADATA #A SET url :https://a.example"), "op") == [
        ":srv 761 op #a url * https://a.example"
    ]
    assert chat.query("bob", "METADATA #a GET url")[1] == ":srv 761 bob #a url * https://a.example"
    assert chat.query("out", "METADATA #a LIST") == [
        ":srv FAIL METADATA KEY_NO_PERMISSION #a * :Permission denied"
    ]
    chat.send("op", "PART #a")
    chat.send("bob", "PART #a")
    # like a topic, a channel's metadata keeps it when it empties
    assert chat.state.channel_count() == 1


def test_invalid_keys_long_values_and_full_targets_are_refused() -> None:
    limits = ChatLimits(metadata_keys=2, metadata_value_bytes=10)
    chat = Chat(limits)
    chat.users("alice")
    for key in ("URL", "a:b", "a b", "x" * 65):
        line = f"METADATA * SET {key} :v" if " " not in key else "METADATA * SET :a b :v"
        (reply,) = to(chat.send("alice", line), "alice")
        assert reply.startswith(":srv FAIL METADATA INVALID_KEY "), reply
    assert to(chat.send("alice", "METADATA * SET a :" + "é" * 6), "alice") == [
        ":srv FAIL METADATA INVALID_VALUE a :Value is too long (at most 10 bytes)"
    ]
    chat.send("alice", "METADATA * SET a :1")
    chat.send("alice", "METADATA * SET b.c/d-e_f :2")
    assert to(chat.send("alice", "METADATA * SET c :3"), "alice") == [
        ":srv FAIL METADATA LIMIT_REACHED SET alice 2 :Too many metadata keys (at most 2)"
    ]
    assert to(chat.send("alice", "METADATA * SET a :changed"), "alice") == [
        ":srv 761 alice alice a * changed"
    ]  # replacing a key is not a new one
    assert chat.query("alice", "METADATA * SNEEZE") == [
        ":srv FAIL METADATA INVALID_PARAMS SNEEZE :Unknown subcommand 'SNEEZE'"
    ]
    assert to(chat.send("alice", "METADATA * SET"), "alice") == [
        ":srv FAIL METADATA INVALID_PARAMS SET :Not enough parameters"
    ]
    assert chat.query("alice", "METADATA *") == [":srv 461 alice METADATA :Not enough parameters"]


def test_changes_are_recorded_with_who_may_hear_of_them() -> None:
    chat = Chat()
    chat.users("alice", "bob", "carol")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    chat.send("alice", "METADATA * SET status :busy")
    assert chat.applied is not None
    assert chat.applied.metadata == (
        MetadataChange("alice", "status", "busy", "alice", ("alice", "bob"), True),
    )
    chat.send("alice", "METADATA * SET status :busy")
    assert chat.applied.metadata == ()  # no change, nothing to tell
    chat.send("alice", "METADATA #a SET topic-url :u")
    assert chat.applied.metadata == (
        MetadataChange("#a", "topic-url", "u", "alice", ("alice", "bob"), False),
    )
    chat.send("carol", "JOIN #a")
    assert chat.applied.joins == (("carol", "#a"),)
    assert chat.state.metadata_sync("carol", "#a", {"status", "topic-url"}) == (
        chat.state.metadata_sync("carol", "#A", ("status", "topic-url"))
    )
    lines = chat.state.metadata_sync("carol", "#a", {"status", "topic-url"})
    assert [m.params for m in lines[1:-1]] == [
        ("carol", "#a", "topic-url", "*", "u"),
        ("carol", "alice", "status", "*", "busy"),
    ]
    assert [m.params for m in chat.state.metadata_sync("carol", "*ALL", {"status"})[1:-1]] == [
        ("carol", "alice", "status", "*", "busy")
    ]
    chat.send("alice", "METADATA * SET status")
    assert chat.applied.metadata[0].value is None


def test_replicas_agree() -> None:
    lines = [
        ("alice", "JOIN #a"),
        ("bob", "JOIN #a"),
        ("alice", "METADATA * SET a :1"),
        ("alice", "METADATA #a SET b :2"),
        ("bob", "METADATA #a SET c :3"),
        ("bob", "METADATA * SET z :9"),
        ("alice", "METADATA * CLEAR"),
    ]
    one, two = Chat(), Chat()
    for chat in (one, two):
        chat.users("alice", "bob")
    for session, line in lines:
        assert one.send(session, line) == two.send(session, line)
        assert one.applied == two.applied
    assert one.state.snapshot() == two.state.snapshot()


def test_metadata_survives_a_snapshot_and_older_snapshots_load() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    chat.send("alice", "METADATA * SET b :2")
    chat.send("alice", "METADATA * SET a :1")
    chat.send("alice", "METADATA #a SET url :u")
    data = chat.state.snapshot()
    restored = ChatState.restore(data, ChatLimits())
    assert restored.snapshot() == data
    assert restored.query("alice", parse("METADATA * LIST"), "srv")[1].params[2] == "b"
    doc = json.loads(data)
    doc["users"][0] = doc["users"][0][:17]  # as written before metadata
    del doc["channels"][0]["metadata"]
    old = ChatState.restore(json.dumps(doc).encode(), ChatLimits())
    assert len(old.query("alice", parse("METADATA * LIST"), "srv")) == 2  # an empty batch
