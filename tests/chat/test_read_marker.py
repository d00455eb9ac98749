"""draft/read-marker in the chat core: per-account markers, set through the log."""

from __future__ import annotations

import json

import pytest

from tests.chat.helpers import START_MS, Chat, parse, to
from twistedchat.chat.command import REGISTER
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.markstore import ReadMarkers, format_marker, parse_timestamp
from twistedchat.chat.outbox import server_time
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

CAP = "draft/read-marker"


def stamp(ms: int) -> str:
    return f"timestamp={server_time(ms)}"


T1, T2, T3 = stamp(START_MS - 3000), stamp(START_MS - 2000), stamp(START_MS - 1000)


def accounts(chat: Chat, **sessions: str) -> None:
    """``session=account``: register the first session of each account (its nick is the
    account's name), log the others in to it by SASL with their own nick."""
    made: set[str] = set()
    for session, account in sessions.items():
        if account in made:
            chat.connect(session, session, account=account)
        else:
            chat.connect(session, account)
            chat.internal(session, REGISTER, account, "$argon2id$fake")
            made.add(account)


def test_a_marker_is_set_told_to_the_accounts_other_sessions_and_read_back() -> None:
    chat = Chat()
    accounts(chat, laptop="alice", phone="alice", bobby="bob")
    out = chat.send("laptop", f"MARKREAD #chan {T2}")
    expected = f":srv MARKREAD #chan {T2}"
    assert to(out, "laptop") == [expected]
    assert to(out, "phone") == [expected]
    assert to(out, "bobby") == []  # another account's markers are never disclosed
    by_session = {d.session: d.needs for d in out}
    assert by_session == {"laptop": None, "phone": CAP}  # the answer goes even without the cap
    assert chat.query("phone", "MARKREAD #chan") == [expected]
    # no such channel (now): the name as asked
    assert chat.query("phone", "MARKREAD #CHAN") == [f":srv MARKREAD #CHAN {T2}"]
    assert chat.query("bobby", "MARKREAD #chan") == [":srv MARKREAD #chan *"]


def test_a_marker_only_moves_forward_and_an_older_one_is_answered_with_the_current() -> None:
    chat = Chat()
    accounts(chat, laptop="alice", phone="alice")
    chat.send("laptop", f"MARKREAD alice {T2}")
    for older in (T1, T2):  # before, and equal: nothing moves, nobody else is told
        out = chat.send("phone", f"MARKREAD alice {older}")
        assert to(out, "phone") == [f":srv MARKREAD alice {T2}"]
        assert to(out, "laptop") == []
    out = chat.send("phone", f"MARKREAD alice {T3}")
    assert to(out, "laptop") == [f":srv MARKREAD alice {T3}"]


def test_a_marker_in_the_future_is_cut_to_the_logs_clock() -> None:
    chat = Chat()
    accounts(chat, laptop="alice")
    out = chat.send("laptop", "MARKREAD #chan timestamp=2999-01-01T00:00:00.000Z")
    assert to(out, "laptop") == [f":srv MARKREAD #chan {stamp(chat.time)}"]
    # and the next real message's time still moves it on
    later = stamp(chat.time + 500)
    assert to(chat.send("laptop", f"MARKREAD #chan {later}"), "laptop")[0].endswith(later)


def test_the_target_is_shown_as_the_channel_or_nick_is_written_and_stored_folded() -> None:
    chat = Chat()
    accounts(chat, laptop="alice", phone="alice")
    chat.users("Carol")
    chat.send("Carol", "JOIN #Room")
    out = chat.send("laptop", f"MARKREAD #ROOM {T1}")
    assert to(out, "phone") == [f":srv MARKREAD #Room {T1}"]
    assert to(chat.send("laptop", f"MARKREAD CAROL {T1}"), "laptop") == [
        f":srv MARKREAD Carol {T1}"
    ]
    assert chat.query("phone", "MARKREAD carol") == [f":srv MARKREAD Carol {T1}"]
    assert chat.query("phone", "MARKREAD gone") == [":srv MARKREAD gone *"]
    assert chat.state._world.read_markers.of("ALICE") == {
        "#room": START_MS - 3000,
        "carol": START_MS - 3000,
    }


def test_a_join_sends_the_joiner_the_channels_marker_before_names() -> None:
    chat = Chat()
    accounts(chat, laptop="alice", phone="alice", bobby="bob")
    chat.send("laptop", f"MARKREAD #chan {T2}")
    out = chat.send("phone", "JOIN #chan")
    assert to(out, "phone")[:2] == [":phone!~phone@host JOIN #chan", f":srv MARKREAD #chan {T2}"]
    marker = next(d for d in out if d.message.command == "MARKREAD")
    assert marker.needs == CAP
    assert [d.session for d in out if d.message.command == "MARKREAD"] == ["phone"]
    out = chat.send("bobby", "JOIN #chan")
    assert to(out, "bobby")[1] == ":srv MARKREAD #chan *"
    chat.users("guest")  # not logged in: no marker
    assert to(chat.send("guest", "JOIN #chan"), "guest")[1] == ":srv MARKREAD #chan *"


def test_a_client_without_an_account_has_no_markers() -> None:
    chat = Chat()
    chat.users("guest")
    assert to(chat.send("guest", f"MARKREAD #chan {T1}"), "guest") == [
        ":srv FAIL MARKREAD ACCOUNT_REQUIRED #chan :Log in to an account to keep read markers"
    ]
    assert chat.query("guest", "MARKREAD #chan") == [":srv MARKREAD #chan *"]
    assert len(chat.state._world.read_markers) == 0


def test_errors() -> None:
    chat = Chat()
    accounts(chat, laptop="alice")
    need = ":srv FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters"
    assert chat.query("laptop", "MARKREAD") == [need]
    empty_target = chat.command("laptop", Message("MARKREAD", ("", T1)))
    assert to(chat.apply(empty_target), "laptop") == [need]
    for bad in ("bad!nick", "9lives", "#a,b", "*"):
        assert chat.query("laptop", f"MARKREAD {bad}") == [
            f":srv FAIL MARKREAD INVALID_PARAMS {bad} :Invalid target"
        ]
        assert to(chat.send("laptop", f"MARKREAD {bad} {T1}"), "laptop") == [
            f":srv FAIL MARKREAD INVALID_PARAMS {bad} :Invalid target"
        ]
    assert to(chat.send("laptop", "MARKREAD #chan *"), "laptop") == [
        ":srv FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp"
    ]
    assert to(chat.send("laptop", "MARKREAD #chan timestamp=yesterday"), "laptop") == [
        ":srv FAIL MARKREAD INVALID_PARAMS timestamp=yesterday :Invalid timestamp"
    ]
    assert len(chat.state._world.read_markers) == 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "timestamp=",
        "timestamp=*",
        "timestamp=2025-02-30T00:00:00.000Z",  # no such day
        "timestamp=2025-01-01T24:00:00.000Z",
        "timestamp=2025-01-01T00:60:00.000Z",
        "timestamp=2025-01-01T00:00:00.000",  # no Z
        "timestamp=2025-01-01 00:00:00.000Z",
        "timestamp=2025-1-1T00:00:00.000Z",
        "timestamp=2025-01-01T00:00:00.0000000000Z",  # ten digits of fraction
        "timestamp=1969-12-31T23:59:59.999Z",  # before the epoch
        "timestamp=0000-01-01T00:00:00.000Z",
        "timestamp=\uff12\uff10\uff12\uff15-01-01T00:00:00.000Z",  # fullwidth digits
        "timestamp=2025-01-01T00:00:00.000Z\n",
        "timestamp=2025-01-01T00:00:00.000Z" + "0" * 400,
        "timestamp=" + "9" * 400,
        "1234567890",
        "timestamp=2025-01-01T00:00:00+01:00",
    ],
)
def test_what_is_no_timestamp(text: str) -> None:
    assert parse_timestamp(text) is None


def test_timestamps_that_are() -> None:
    assert parse_timestamp("timestamp=1970-01-01T00:00:00.000Z") == 0
    assert parse_timestamp("timestamp=2019-01-04T14:33:26.123Z") == 1_546_612_406_123
    assert parse_timestamp("2019-01-04T14:33:26.123Z") == 1_546_612_406_123  # bare, as Ergo
    assert parse_timestamp("timestamp=2019-01-04T14:33:26Z") == 1_546_612_406_000
    assert parse_timestamp("timestamp=2019-01-04T14:33:26.1Z") == 1_546_612_406_100
    assert parse_timestamp("timestamp=2019-01-04T14:33:26.123456Z") == 1_546_612_406_123
    assert format_marker(1_546_612_406_123) == "timestamp=2019-01-04T14:33:26.123Z"
    assert format_marker(None) == "*"
    for ms in (0, 1, 999, 1_546_612_406_123, START_MS):
        assert parse_timestamp(format_marker(ms)) == ms


def test_hostile_input_is_refused_without_growing_anything() -> None:
    chat = Chat(ChatLimits(read_markers=5, read_markers_total=8))
    accounts(chat, laptop="alice", phone="alice")
    huge_channel, huge_nick = "#" + "x" * 400, "n" * 400
    for target in (huge_channel, huge_nick):
        out = chat.send("laptop", f"MARKREAD {target} {T1}")
        assert to(out, "laptop") == [":srv FAIL MARKREAD INVALID_PARAMS * :Invalid target"]
    out = chat.send("laptop", "MARKREAD #chan :timestamp= 2025-01-01T00:00:00.000Z")
    assert to(out, "laptop") == [":srv FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp"]
    out = chat.send("laptop", "MARKREAD #chan :" + "9" * 400)
    assert to(out, "laptop") == [":srv FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp"]
    out = chat.send("laptop", "MARKREAD #chan ::colon")
    assert to(out, "laptop") == [":srv FAIL MARKREAD INVALID_PARAMS * :Invalid timestamp"]
    assert len(chat.state._world.read_markers) == 0
    for n in range(50):  # many targets: the account keeps the 5 set last
        chat.send("laptop", f"MARKREAD #c{n} {T1}")
    assert list(chat.state._world.read_markers.of("alice")) == [f"#c{n}" for n in range(45, 50)]
    assert chat.query("phone", "MARKREAD #c0") == [":srv MARKREAD #c0 *"]


def test_markers_per_account_evict_the_least_recently_set() -> None:
    store = ReadMarkers(per_account=3, total=100)
    for target in ("#a", "#b", "#c"):
        assert store.set("alice", target, 10)
    assert store.set("alice", "#a", 20)  # #a is now the most recently set
    assert not store.set("alice", "#b", 5)  # no move: no renewal either
    store.set("alice", "#d", 10)
    assert list(store.of("alice")) == ["#c", "#a", "#d"]
    assert len(store) == 3


def test_markers_in_total_evict_from_the_least_recently_active_account() -> None:
    store = ReadMarkers(per_account=10, total=4)
    store.set("alice", "#a", 1)
    store.set("bob", "#a", 1)
    store.set("alice", "#b", 1)  # alice is the more recently active
    store.set("carol", "#a", 1)
    store.set("carol", "#b", 1)  # one too many: bob's oldest goes, and bob with it
    assert store.rows() == [["alice", [["#a", 1], ["#b", 1]]], ["carol", [["#a", 1], ["#b", 1]]]]
    store.set("dave", "#a", 1)
    assert store.rows()[0] == ["alice", [["#b", 1]]]
    assert len(store) == 4


def test_a_renamed_channel_keeps_its_markers() -> None:
    chat = Chat()
    accounts(chat, laptop="alice", phone="alice")
    chat.send("laptop", "JOIN #old")
    chat.send("laptop", f"MARKREAD #old {T2}")
    chat.send("laptop", f"MARKREAD #new {T1}")  # a stale marker of a channel long gone
    chat.send("laptop", "RENAME #old #new")
    assert chat.query("phone", "MARKREAD #new") == [f":srv MARKREAD #new {T2}"]
    assert chat.query("phone", "MARKREAD #old") == [":srv MARKREAD #old *"]
    assert len(chat.state._world.read_markers) == 1


def test_markers_survive_a_snapshot_in_their_order() -> None:
    limits = ChatLimits(read_markers=3)
    chat = Chat(limits)
    accounts(chat, laptop="alice", bobby="bob")
    for target in ("#a", "#b", "#c"):
        chat.send("laptop", f"MARKREAD {target} {T1}")
    chat.send("bobby", f"MARKREAD alice {T2}")
    chat.send("laptop", f"MARKREAD #a {T2}")
    data = chat.state.snapshot()
    restored = ChatState.restore(data, limits)
    assert restored.snapshot() == data
    assert restored.query("laptop", parse("MARKREAD #a"), "srv")[0].params == ("#a", T2)
    assert restored.query("bobby", parse("MARKREAD Alice"), "srv")[0].params == ("alice", T2)
    # the same marker goes next on both: the order came through
    command = chat.command("laptop", parse(f"MARKREAD #d {T1}"))
    chat.state.apply(chat.index + 1, command)
    restored.apply(chat.index + 1, command)
    assert restored.snapshot() == chat.state.snapshot()
    assert list(chat.state._world.read_markers.of("alice")) == ["#c", "#a", "#d"]


def test_a_snapshot_without_markers_still_loads() -> None:
    chat = Chat()
    accounts(chat, laptop="alice")
    doc = json.loads(chat.state.snapshot())
    del doc["read_markers"]
    restored = ChatState.restore(json.dumps(doc).encode(), ChatLimits())
    assert restored.query("laptop", parse("MARKREAD #a"), "srv")[0].params == ("#a", "*")


def test_a_smaller_limit_on_restore_keeps_the_most_recent() -> None:
    chat = Chat()
    accounts(chat, laptop="alice")
    for n in range(6):
        chat.send("laptop", f"MARKREAD #c{n} {T1}")
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits(read_markers=2))
    assert list(restored._world.read_markers.of("alice")) == ["#c4", "#c5"]
