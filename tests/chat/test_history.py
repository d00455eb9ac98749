"""CHATHISTORY from the replicated history: selection, bounds, access and snapshots."""

from __future__ import annotations

from tests.chat.helpers import Chat
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message


def texts(replies: list[Message]) -> list[str]:
    return [m.params[-1] for m in replies if m.command in ("PRIVMSG", "NOTICE")]


def ask(chat: Chat, session: str, *params: str) -> list[Message]:
    return chat.state.query(session, Message("CHATHISTORY", params), "srv")


def room(limits: ChatLimits | None = None, messages: int = 5) -> Chat:
    chat = Chat(limits)
    chat.users("alice", "bob")
    for session in ("alice", "bob"):
        chat.send(session, "JOIN #room")
    for i in range(messages):
        chat.send("alice", f"PRIVMSG #room :m{i}")
    return chat


def test_latest_comes_in_a_batch_with_original_tags_oldest_first() -> None:
    chat = room()
    replies = ask(chat, "bob", "LATEST", "#room", "*", "3")
    assert replies[0].command == "BATCH" and replies[0].params[1:] == ("chathistory", "#room")
    assert replies[-1] == Message("BATCH", ("-history",))
    assert texts(replies) == ["m2", "m3", "m4"]
    inside = replies[1:-1]
    assert all(m.tags["batch"] == "history" and "msgid" in m.tags for m in inside)
    assert all(m.source is not None and m.source.startswith("alice!") for m in inside)


def test_before_after_around_between_by_msgid_and_timestamp() -> None:
    chat = room(messages=9)
    every = ask(chat, "bob", "LATEST", "#room", "*", "100")[1:-1]
    ids = [m.tags["msgid"] for m in every]
    times = [m.tags["time"] for m in every]
    assert texts(ask(chat, "bob", "BEFORE", "#room", f"msgid={ids[4]}", "2")) == ["m2", "m3"]
    assert texts(ask(chat, "bob", "AFTER", "#room", f"timestamp={times[6]}", "5")) == [
        "m7",
        "m8",
    ]
    assert texts(ask(chat, "bob", "AROUND", "#room", f"msgid={ids[4]}", "3")) == [
        "m3",
        "m4",
        "m5",
    ]
    between = ask(chat, "bob", "BETWEEN", "#room", f"msgid={ids[7]}", f"msgid={ids[1]}", "10")
    assert texts(between) == ["m2", "m3", "m4", "m5", "m6"]
    # The limit counts from the first bound: the later one first gives the latest.
    between = ask(chat, "bob", "BETWEEN", "#room", f"msgid={ids[7]}", f"msgid={ids[1]}", "2")
    assert texts(between) == ["m5", "m6"]
    between = ask(chat, "bob", "BETWEEN", "#room", f"msgid={ids[1]}", f"msgid={ids[7]}", "2")
    assert texts(between) == ["m2", "m3"]
    assert texts(ask(chat, "bob", "LATEST", "#room", f"msgid={ids[6]}", "10")) == ["m7", "m8"]


def test_private_conversations_have_history_for_both_sides_only() -> None:
    chat = room(messages=0)
    chat.users("carol")
    chat.send("alice", "PRIVMSG bob :psst")
    chat.send("bob", "NOTICE alice :ok")
    assert texts(ask(chat, "bob", "LATEST", "alice", "*", "10")) == ["psst", "ok"]
    assert texts(ask(chat, "alice", "LATEST", "BOB", "*", "10")) == ["psst", "ok"]
    assert texts(ask(chat, "carol", "LATEST", "alice", "*", "10")) == []


def test_non_members_and_bad_requests_get_fail() -> None:
    chat = room()
    chat.users("eve")
    (fail,) = ask(chat, "eve", "LATEST", "#room", "*", "10")
    assert fail.params[:4] == ("CHATHISTORY", "INVALID_TARGET", "LATEST", "#room")
    assert ask(chat, "bob", "SIDEWAYS", "#room")[0].params[1] == "UNKNOWN_COMMAND"
    assert ask(chat, "bob", "LATEST", "#room")[0].params[1] == "NEED_MORE_PARAMS"
    assert ask(chat, "bob", "LATEST", "#room", "*", "lots")[0].params[1] == "INVALID_PARAMS"
    assert ask(chat, "bob", "BEFORE", "#room", "msgid=nope", "5")[0].params[1] == ("INVALID_PARAMS")
    assert ask(chat, "bob", "BEFORE", "#room", "timestamp=yesterday", "5")[0].params[1] == (
        "INVALID_PARAMS"
    )


def test_history_is_bounded_per_conversation_and_in_count() -> None:
    limits = ChatLimits(history_max=3, history_conversations=2, history_batch=2)
    chat = room(limits, messages=6)
    assert texts(ask(chat, "bob", "LATEST", "#room", "*", "100")) == ["m4", "m5"]  # batch cap
    assert len(chat.state._world.history.messages("#room")) == 3
    for name in ("#x", "#y"):
        chat.send("alice", f"JOIN {name}")
        chat.send("alice", f"PRIVMSG {name} :hi")
    assert len(chat.state._world.history.conversations) == 2  # #room went first


def test_old_messages_expire_by_log_time() -> None:
    chat = room(ChatLimits(history_days=1), messages=2)
    chat.time += 2 * 86_400_000
    chat.send("alice", "PRIVMSG #room :fresh")
    assert texts(ask(chat, "bob", "LATEST", "#room", "*", "10")) == ["fresh"]


def test_targets_lists_conversations_with_recent_messages() -> None:
    chat = room(messages=1)
    chat.send("bob", "PRIVMSG alice :hey")
    replies = ask(
        chat, "alice", "TARGETS", "timestamp=2000-01-01T00:00:00.000Z",
        "timestamp=2100-01-01T00:00:00.000Z", "10",
    )  # fmt: skip
    listed = [m.params[1:] for m in replies if m.command == "CHATHISTORY"]
    assert [name for name, _ in listed] == ["#room", "bob"]
    assert all(stamp.endswith("Z") and stamp[:2] == "20" for _, stamp in listed)  # bare


def test_history_survives_a_snapshot() -> None:
    chat = room(messages=4)
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    again = restored.query("bob", Message("CHATHISTORY", ("LATEST", "#room", "*", "10")), "srv")
    assert texts(again) == ["m0", "m1", "m2", "m3"]
    assert again == ask(chat, "bob", "LATEST", "#room", "*", "10")
