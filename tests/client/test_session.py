"""The client's resumable session, driven line by line without sockets."""

from __future__ import annotations

import pytest

from twistedchat.client.session import (
    PENDING_MAX,
    SEEN_KEPT,
    Identity,
    Incoming,
    LoginFailed,
    Phase,
    Registered,
    Reply,
    ResumableSession,
    Resumed,
    SessionLost,
)
from twistedchat.irc.sasl import Credentials, Pending, PlainExchange
from twistedchat.wire.grammar import parse_line, serialize
from twistedchat.wire.message import Message
from twistedchat.wire.numerics import NO_QUORUM

T0 = "2026-11-30T10:00:00.000Z"


def feed(session: ResumableSession, *lines: str) -> tuple[list[str], list[object]]:
    for line in lines:
        session.received(parse_line(line.encode()))
    outgoing, events = session.take()
    return [serialize(m, None).decode().rstrip("\r\n") for m in outgoing], list(events)


def reconnected(session: ResumableSession) -> None:
    """The node went away and the session is on a new connection, its RESUME sent."""
    session.disconnected()
    session.connected()
    session.take()


def registered() -> ResumableSession:
    session = ResumableSession(Identity("alice", "al", "Alice"))
    session.connected()
    feed(session, ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    return session


def test_first_connection_registers_and_asks_for_the_capabilities_it_needs() -> None:
    session = ResumableSession(Identity("alice", "al", "Alice"))
    session.connected()
    outgoing, _ = session.take()
    lines = [serialize(m, None).decode().strip() for m in outgoing]
    assert lines[0] == "CAP LS 302"
    assert (
        lines[1].startswith("CAP REQ :twistedchat.org/resume ") and "draft/chathistory" in lines[1]
    )
    assert lines[2:] == ["NICK alice", "USER al 0 * Alice", "CAP END"]
    _, events = feed(session, ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    assert events == [Incoming(parse_line(b":srv 001 alice :Welcome")), Registered("alice")]
    assert session.token == "tok1" and session.phase is Phase.READY


def test_commands_are_labelled_and_settled_by_their_answers() -> None:
    session = registered()
    label = session.submit(Message("PRIVMSG", ("#a", "hi")))
    outgoing, _ = session.take()
    assert [serialize(m, None) for m in outgoing] == [f"@label={label} PRIVMSG #a :hi\r\n".encode()]
    assert label in session.pending
    _, events = feed(session, f"@label={label};msgid=1-1;time={T0} :alice!a@h PRIVMSG #a :hi")
    assert events == [
        Reply(label, (parse_line(f"@msgid=1-1;time={T0} :alice!a@h PRIVMSG #a :hi".encode()),))
    ]
    assert session.pending == {}


def test_a_labelled_batch_is_one_answer_and_nested_batches_stay_nested() -> None:
    session = registered()
    label = session.submit(Message("CHATHISTORY", ("LATEST", "#a", "*", "10")))
    session.take()
    _, events = feed(
        session,
        f"@label={label} :srv BATCH +L1 labeled-response",
        "@batch=L1 :srv BATCH +history chathistory #a",
        f"@batch=history;msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :old",
        "@batch=L1 :srv BATCH -history",
        ":srv BATCH -L1",
    )
    (reply,) = events
    assert isinstance(reply, Reply) and reply.label == label
    assert [m.command for m in reply.messages] == ["BATCH", "PRIVMSG", "BATCH"]
    assert "batch" not in reply.messages[0].tags  # its own parent is gone
    assert reply.messages[1].tags["batch"] == "history"


def test_after_a_failover_the_session_resumes_catches_up_and_resends() -> None:
    session = registered()
    feed(session, f"@msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before")
    label = session.submit(Message("PRIVMSG", ("#a", "unanswered")))
    session.take()
    session.disconnected()
    session.connected()
    outgoing, _ = session.take()
    assert [m.command for m in outgoing] == ["CAP", "CAP", "RESUME", "CAP"]
    assert outgoing[2].params == ("tok1",)
    lines, events = feed(session, ":srv 001 alice :Welcome back", ":srv RESUME TOKEN tok2")
    assert events == [] and session.token == "tok2"  # the burst is not shown again
    lines, events = feed(session, ":srv RESUME SUCCESS alice")
    assert session.phase is Phase.SYNCING
    after, targets = lines  # each known conversation from its last msgid, then new ones
    assert after.endswith("CHATHISTORY AFTER #a msgid=1-1 100")
    assert "CHATHISTORY TARGETS timestamp=2026-11-30T09:59:00.000Z" in targets
    targets_label = parse_line(targets.encode()).tags["label"]
    after_label = parse_line(after.encode()).tags["label"]
    lines, _ = feed(
        session,
        f"@label={targets_label} :srv BATCH +L2 draft/chathistory-targets",
        f"@batch=L2 :srv CHATHISTORY TARGETS #a timestamp={T0}",
        f"@batch=L2 :srv CHATHISTORY TARGETS carol timestamp={T0}",
        ":srv BATCH -L2",
        f"@msgid=9-1;time={T0} :carol!c@h PRIVMSG #a :live, during the catch-up",
    )
    (private,) = lines  # only the conversation we did not know of, by time
    assert private.endswith("CHATHISTORY AFTER carol timestamp=2026-11-30T09:59:00.000Z 100")
    private_label = parse_line(private.encode()).tags["label"]
    feed(session, f"@label={private_label} :srv ACK")
    lines, events = feed(
        session,
        f"@label={after_label} :srv BATCH +L3 labeled-response",
        "@batch=L3 :srv BATCH +history chathistory #a",
        f"@batch=history;msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before",
        f"@batch=history;msgid=3-1;time={T0} :bob!b@h PRIVMSG #a :missed",
        "@batch=history;msgid=2-1;time=2026-11-30T09:00:00.000Z :dan!d@h PRIVMSG #a :late",
        "@batch=L3 :srv BATCH -history",
        ":srv BATCH -L3",
    )
    texts = [e.message.params[-1] for e in events if isinstance(e, Incoming)]
    # "before" was seen already; log order is kept even where the times disagree
    assert texts == ["missed", "late", "live, during the catch-up"]
    assert Resumed("alice", 2) in events
    assert lines == [f"@label={label} PRIVMSG #a :unanswered"]  # same label: applied once
    assert session.phase is Phase.READY


def test_a_msgid_the_server_no_longer_keeps_falls_back_to_time() -> None:
    session = registered()
    feed(session, f"@msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before")
    reconnected(session)
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    after_label = parse_line(lines[0].encode()).tags["label"]
    lines, _ = feed(
        session, f"@label={after_label} :srv FAIL CHATHISTORY INVALID_PARAMS msgid=1-1 :x"
    )
    assert lines == [f"@label=h{int(after_label[1:]) + 2} CHATHISTORY AFTER #a "
                     "timestamp=2026-11-30T09:59:00.000Z 100"]  # fmt: skip


def test_a_session_the_cluster_forgot_registers_again() -> None:
    session = registered()
    reconnected(session)
    lines, events = feed(session, ":srv FAIL RESUME INVALID_TOKEN :Cannot resume")
    assert events == [SessionLost("Cannot resume")]
    assert lines == ["NICK alice", "USER al 0 * Alice"]
    assert session.token is None and session.phase is Phase.REGISTERING
    # What is left of the old session may hold the nick a while: another one is taken.
    lines, events = feed(session, ":srv 433 * alice :Nickname is already in use")
    assert lines == ["NICK alice_"] and len(events) == 1
    assert feed(session, ":srv 433 * alice_ :Nickname is already in use")[0] == ["NICK alice_2"]
    feed(session, ":srv 001 alice_2 :Welcome")
    assert session.nick == "alice_2" and session.phase is Phase.READY


def test_a_nick_taken_at_the_first_registration_is_the_callers_to_change() -> None:
    session = ResumableSession(Identity("alice", "al", "Alice"))
    session.connected()
    session.take()
    lines, events = feed(session, ":srv 433 * alice :Nickname is already in use")
    assert lines == [] and len(events) == 1


def test_pings_are_answered_and_remembered_msgids_are_bounded() -> None:
    session = registered()
    lines, _ = feed(session, ":srv PING :abc")
    assert lines == ["PONG :abc"]
    for i in range(SEEN_KEPT + 10):
        session.received(Message("PRIVMSG", ("#a", "x"), "b!b@h", {"msgid": f"m{i}"}))
    assert len(session._seen) == SEEN_KEPT


def test_commands_waiting_for_the_cluster_are_bounded() -> None:
    session = registered()
    session.disconnected()
    for _ in range(PENDING_MAX):
        session.submit(Message("PRIVMSG", ("#a", "queued")))
    label = session.submit(Message("PRIVMSG", ("#a", "one too many")))
    _, events = session.take()
    assert len(session.pending) == PENDING_MAX and label not in session.pending
    (refusal,) = events
    assert isinstance(refusal, Reply) and refusal.messages[0].params[:2] == (
        "PRIVMSG",
        "TEMPORARILY_UNAVAILABLE",
    )


def test_writes_refused_for_want_of_a_quorum_stay_pending_and_go_out_again() -> None:
    session = registered()
    label = session.submit(Message("PRIVMSG", ("#a", "hold on")))
    session.take()
    _, events = feed(session, f"@label={label} :srv 400 alice PRIVMSG :{NO_QUORUM}")
    assert events == [] and session.refused == [label] and label in session.pending
    session.retry_refused()
    outgoing, _ = session.take()
    assert [m.tags.get("label") for m in outgoing] == [label]
    _, events = feed(session, f"@label={label} :srv ACK")
    assert events == [Reply(label, ())] and session.pending == {}


def test_a_node_that_goes_away_asks_the_session_to_move() -> None:
    session = registered()
    feed(session, ":srv RESUME MOVE :This server is shutting down")
    assert session.asked_to_move
    session.disconnected()
    assert not session.asked_to_move


def test_a_catch_up_cut_short_delivers_what_it_gathered_next_time() -> None:
    session = registered()
    feed(session, f"@msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before")
    reconnected(session)
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    after_label = parse_line(lines[0].encode()).tags["label"]
    feed(
        session,
        f"@label={after_label} :srv BATCH +L1 labeled-response",
        f"@batch=L1;msgid=2-1;time={T0} :bob!b@h PRIVMSG #a :gathered",
        ":srv BATCH -L1",
        f"@msgid=3-1;time={T0} :bob!b@h PRIVMSG #a :held",
    )
    reconnected(session)  # the TARGETS answer never came: the catch-up is cut short
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    assert lines[0].endswith("CHATHISTORY AFTER #a msgid=2-1 100")  # what was gathered
    after_label = parse_line(lines[0].encode()).tags["label"]
    events = feed(
        session,
        f"@label={after_label} :srv BATCH +L2 labeled-response",
        f"@batch=L2;msgid=3-1;time={T0} :bob!b@h PRIVMSG #a :held",  # fetched again
        ":srv BATCH -L2",
    )[1]
    for line in lines[1:]:
        label = parse_line(line.encode()).tags["label"]
        events += feed(session, f"@label={label} :srv ACK")[1]
    texts = [e.message.params[-1] for e in events if isinstance(e, Incoming)]
    assert texts == ["gathered", "held"]


def test_a_catch_up_cut_short_before_its_pages_came_starts_from_the_same_place() -> None:
    """The gateway moved twice in a row (its node killed, then a rebalance while it was
    catching up) lost the lines between its last msgid and the first line that came live
    during the first catch-up: that live line had moved the resume point past them."""
    session = registered()
    feed(session, f"@msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before")
    reconnected(session)
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    assert lines[0].endswith("CHATHISTORY AFTER #a msgid=1-1 100")
    feed(session, f"@msgid=5-1;time={T0} :bob!b@h PRIVMSG #a :live")  # no page came yet
    reconnected(session)  # moved again
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    assert lines[0].endswith("CHATHISTORY AFTER #a msgid=1-1 100")  # not after "live"
    after_label = parse_line(lines[0].encode()).tags["label"]
    events = feed(
        session,
        f"@label={after_label} :srv BATCH +L1 labeled-response",
        f"@batch=L1;msgid=3-1;time={T0} :bob!b@h PRIVMSG #a :missed",
        f"@batch=L1;msgid=5-1;time={T0} :bob!b@h PRIVMSG #a :live",
        ":srv BATCH -L1",
        f"@msgid=6-1;time={T0} :bob!b@h PRIVMSG #a :newer",  # live during this catch-up
        f"@msgid=5-1;time={T0} :bob!b@h PRIVMSG #a :live",  # (cannot come twice; harmless)
    )[1]
    for line in lines[1:]:
        label = parse_line(line.encode()).tags["label"]
        events += feed(session, f"@label={label} :srv ACK")[1]
    texts = [e.message.params[-1] for e in events if isinstance(e, Incoming)]
    assert texts == ["missed", "live", "newer"]


def test_commands_given_before_the_first_connection_follow_the_registration() -> None:
    session = ResumableSession(Identity("bot", "bot", "Bot"))
    session.submit(Message("JOIN", ("#a",)))
    session.submit(Message("PRIVMSG", ("#a", "!ping")))
    assert session.take() == ([], [])
    session.connected()
    lines = [serialize(m, None).decode().strip() for m in session.take()[0]]
    assert lines[-3:] == ["CAP END", "JOIN #a", "PRIVMSG #a :!ping"]


ALICE = Identity("alice", "al", "Alice", Credentials("alice", "s3cret"))


def sent(session: ResumableSession) -> list[str]:
    return [serialize(m, None).decode().rstrip("\r\n") for m in session.take()[0]]


def authenticating(identity: Identity | Credentials = ALICE) -> ResumableSession:
    """A session on its first connection, its PLAIN challenge answered."""
    session = ResumableSession(identity)
    session.connected()
    session.take()
    feed(session, "AUTHENTICATE +")
    return session


def test_with_credentials_the_login_comes_before_nick_user_and_cap_end() -> None:
    session = ResumableSession(ALICE)
    session.connected()
    lines = sent(session)
    assert lines[0] == "CAP LS 302" and lines[1].endswith(" sasl")
    assert lines[2:] == ["AUTHENTICATE PLAIN"] and session.phase is Phase.AUTHENTICATING
    (response,) = feed(session, "AUTHENTICATE +")[0]
    exchange = PlainExchange()  # what a node makes of it
    exchange.step("PLAIN")
    assert exchange.step(response.split()[1]) == Credentials("alice", "s3cret")
    lines, events = feed(
        session,
        ":srv 900 * *!*@h alice :You are now logged in as alice",
        ":srv 903 * :SASL authentication successful",
    )
    assert lines == ["NICK alice", "USER al 0 * Alice", "CAP END"]
    assert [e.message.command for e in events if isinstance(e, Incoming)] == ["900", "903"]
    assert len(events) == 2  # no LoginFailed
    _, events = feed(session, ":srv 001 alice :Welcome")
    assert events[-1] == Registered("alice")


@pytest.mark.parametrize(("password_length", "chunks"), [(588, 3), (589, 3), (10, 1)])
def test_a_long_response_goes_in_400_byte_chunks_ended_by_a_plus(
    password_length: int, chunks: int
) -> None:
    # "alice\0alice\0" and 588 characters make 600 bytes: exactly 800 in base64.
    password = "p" * password_length
    session = ResumableSession(Identity("alice", "al", "Alice", Credentials("alice", password)))
    session.connected()
    session.take()
    params = [line.split()[1] for line in feed(session, "AUTHENTICATE +")[0]]
    assert len(params) == chunks and all(len(p) == 400 for p in params[:-1])
    assert (params[-1] == "+") == (password_length == 588)
    exchange = PlainExchange()
    exchange.step("PLAIN")
    steps = [exchange.step(param) for param in params]
    assert steps[:-1] == [Pending()] * (chunks - 1)
    assert steps[-1] == Credentials("alice", password)


@pytest.mark.parametrize("code", ["902", "904", "905", "906"])
def test_a_refused_login_is_reported_and_the_registration_goes_on_without(code: str) -> None:
    session = authenticating()
    lines, events = feed(session, f":srv {code} * :SASL authentication failed")
    refusal = parse_line(f":srv {code} * :SASL authentication failed".encode())
    assert events == [Incoming(refusal), LoginFailed(refusal)]
    assert lines == ["NICK alice", "USER al 0 * Alice", "CAP END"]
    _, events = feed(session, ":srv 001 alice :Welcome")
    assert events[-1] == Registered("alice") and session.phase is Phase.READY


def test_the_mechanism_list_is_news_and_the_904_after_it_the_verdict() -> None:
    session = authenticating()
    lines, events = feed(session, ":srv 908 * PLAIN :are available SASL mechanisms")
    assert lines == [] and len(events) == 1 and session.phase is Phase.AUTHENTICATING
    lines, events = feed(session, ":srv 904 * :SASL authentication failed")
    assert isinstance(events[-1], LoginFailed) and lines[-1] == "CAP END"


def test_a_refused_login_is_not_tried_again() -> None:
    session = authenticating()
    feed(session, ":srv 904 * :SASL authentication failed", ":srv 001 alice :Welcome")
    session.disconnected()
    session.token = None  # the session was lost: register anew
    session.connected()
    assert "AUTHENTICATE PLAIN" not in sent(session)


def test_commands_wait_for_the_login_and_follow_the_registration() -> None:
    session = authenticating()
    session.submit(Message("JOIN", ("#a",)))
    assert sent(session) == []
    lines, _ = feed(session, ":srv 903 * :SASL authentication successful")
    assert lines[-2:] == ["CAP END", "JOIN #a"]


def test_a_resume_does_not_log_in_again() -> None:
    session = authenticating()
    feed(session, ":srv 903 * :ok", ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    session.disconnected()
    session.connected()
    lines = sent(session)
    assert [line.split()[0] for line in lines] == ["CAP", "CAP", "RESUME", "CAP"]
    assert lines[1].endswith(" sasl")  # should the resume fail, the login follows


def test_a_failed_resume_logs_in_before_registering_anew() -> None:
    session = authenticating()
    feed(session, ":srv 903 * :ok", ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    reconnected(session)
    lines, _ = feed(session, ":srv FAIL RESUME INVALID_TOKEN :gone")
    assert lines == ["AUTHENTICATE PLAIN"]  # the node already has our CAP END
    assert feed(session, "AUTHENTICATE +")[0][0].startswith("AUTHENTICATE ")
    lines, _ = feed(session, ":srv 903 * :ok")
    assert lines == ["NICK alice", "USER al 0 * Alice"]


def test_a_session_started_from_credentials_registers_once_introduced() -> None:
    session = authenticating(Credentials("alice", "s3cret"))
    session.submit(Message("JOIN", ("#a",)))
    lines, events = feed(session, ":srv 903 * :SASL authentication successful")
    assert lines == [] and session.phase is Phase.AWAITING_IDENTITY and len(events) == 1
    session.introduce(Identity("alice", "al", "Alice"))
    assert sent(session) == ["NICK alice", "USER al 0 * Alice", "CAP END", "JOIN #a"]


def test_a_login_that_reclaims_a_session_shows_its_burst_but_not_resume_lines() -> None:
    session = authenticating()
    feed(session, ":srv 903 * :ok")
    _, events = feed(
        session,
        ":srv 001 alice :Welcome back, alice",
        ":alice!al@h JOIN #a",
        ":srv RESUME TOKEN tok9",
        ":srv RESUME SUCCESS alice",
    )
    assert [e.message.command for e in events if isinstance(e, Incoming)] == ["001", "JOIN"]
    assert session.token == "tok9" and session.phase is Phase.READY


def test_the_password_stays_out_of_reprs() -> None:
    assert "s3cret" not in repr(ALICE) and "s3cret" not in repr(ALICE.sasl)


def test_channel_events_fetched_at_catch_up_are_delivered_once_in_order() -> None:
    session = ResumableSession(Identity("alice", "al", "Alice"))
    session.connected()
    lines, _ = feed(session)
    assert "draft/event-playback" in lines[1].split(":", 1)[1].split()  # the CAP REQ
    feed(session, ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    feed(
        session,
        f"@msgid=1-1;time={T0} :bob!b@h PRIVMSG #a :before",
        f"@msgid=2-1;time={T0} :alice!a@h JOIN #b",  # #b is known by our JOIN alone
    )
    reconnected(session)
    lines, _ = feed(session, ":srv RESUME SUCCESS alice")
    after_a, after_b, _ = lines  # and TARGETS
    assert after_a.endswith("CHATHISTORY AFTER #a msgid=1-1 100")
    assert after_b.endswith("CHATHISTORY AFTER #b msgid=2-1 100")
    label_a, label_b, label_t = (parse_line(line.encode()).tags["label"] for line in lines)
    feed(session, f"@label={label_t} :srv ACK")
    _, events = feed(
        session,
        f"@msgid=9-1;time={T0} :erin!e@h JOIN #a",  # live, during the catch-up: held
        f"@label={label_a} :srv BATCH +L1 labeled-response",
        "@batch=L1 :srv BATCH +history chathistory #a",
        f"@batch=history;msgid=3-1;time={T0} :dan!d@h JOIN #a",
        f"@batch=history;msgid=4-1;time={T0} :bob!b@h TOPIC #a :news",
        f"@batch=history;msgid=5-1;time={T0} :bob!b@h QUIT :gone",
        "@batch=L1 :srv BATCH -history",
        ":srv BATCH -L1",
        f"@label={label_b} :srv BATCH +L2 labeled-response",
        "@batch=L2 :srv BATCH +history chathistory #b",
        f"@batch=history;msgid=2-1;time={T0} :alice!a@h JOIN #b",  # seen already
        f"@batch=history;msgid=5-1;time={T0} :bob!b@h QUIT :gone",  # the same QUIT
        f"@batch=history;msgid=6-1;time={T0} :dan!d@h NICK daniel",
        "@batch=L2 :srv BATCH -history",
        ":srv BATCH -L2",
    )
    shown = [e.message for e in events if isinstance(e, Incoming)]
    assert [(m.command, m.tags["msgid"]) for m in shown] == [
        ("JOIN", "3-1"),
        ("TOPIC", "4-1"),
        ("QUIT", "5-1"),
        ("NICK", "6-1"),
        ("JOIN", "9-1"),  # live lines come after the catch-up
    ]
    assert all("batch" not in m.tags for m in shown)  # live lines, not a history batch
    assert Resumed("alice", 4) in events


def test_a_server_password_goes_first_on_every_connection() -> None:
    session = ResumableSession(Identity("alice", "al", "Alice"), server_password="open-sesame")
    session.connected()
    first, _ = session.take()
    assert serialize(first[0], None) == b"PASS open-sesame\r\n"
    feed(session, ":srv 001 alice :Welcome", ":srv RESUME TOKEN tok1")
    session.disconnected()
    session.connected()  # a resume on another node needs it too, in case it registers anew
    again, _ = session.take()
    assert [m.command for m in again[:2]] == ["PASS", "CAP"]
