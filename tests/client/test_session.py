"""The client's resumable session, driven line by line without sockets."""

from __future__ import annotations

from twistedchat.client.session import (
    PENDING_MAX,
    SEEN_KEPT,
    Identity,
    Incoming,
    Phase,
    Registered,
    Reply,
    ResumableSession,
    Resumed,
    SessionLost,
)
from twistedchat.irc.grammar import parse_line, serialize
from twistedchat.irc.message import Message
from twistedchat.irc.numerics import NO_QUORUM

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
    assert lines[0].endswith("CHATHISTORY AFTER #a msgid=3-1 100")  # nothing asked twice
    events = []
    for line in lines:
        label = parse_line(line.encode()).tags["label"]
        events += feed(session, f"@label={label} :srv ACK")[1]
    texts = [e.message.params[-1] for e in events if isinstance(e, Incoming)]
    assert texts == ["gathered", "held"]


def test_commands_given_before_the_first_connection_follow_the_registration() -> None:
    session = ResumableSession(Identity("bot", "bot", "Bot"))
    session.submit(Message("JOIN", ("#a",)))
    session.submit(Message("PRIVMSG", ("#a", "!ping")))
    assert session.take() == ([], [])
    session.connected()
    lines = [serialize(m, None).decode().strip() for m in session.take()[0]]
    assert lines[-3:] == ["CAP END", "JOIN #a", "PRIVMSG #a :!ping"]
