"""The IRC connection over a StringTransport and a Clock, on a real hub and chat state."""

from __future__ import annotations

import pytest

from tests.memorylog import Server


@pytest.fixture
def server() -> Server:
    return Server()


def test_welcome_burst_advertises_isupport_and_motd(server: Server) -> None:
    client = server.connect()
    client.send("NICK alice", "USER alice 0 * :Alice A")
    lines = client.lines()
    codes = [line.split()[1] for line in lines]
    for code in ("001", "002", "003", "004", "005", "251", "422"):
        assert code in codes, lines
    isupport = " ".join(line for line in lines if " 005 " in line)
    for token in (
        "CASEMAPPING=rfc1459",
        "CHANTYPES=#&",
        "PREFIX=(ov)@+",
        "NICKLEN=30",
        "NETWORK=TestNet",
        "CHANMODES=beI,k,l,Cimnst",
        "EXCEPTS=e",
        "INVEX=I",
        "EXTBAN=$,am",
        "ACCOUNTEXTBAN=a",
        "MAXLIST=beI:100",
        "TARGMAX=",
    ):
        assert token in isupport
    assert lines[0].startswith(":irc.test 001 alice ")


def test_commands_before_registration_get_451(server: Server) -> None:
    client = server.connect()
    client.send("JOIN #a")
    assert client.has(" 451 * :You have not registered")


def test_channel_and_private_chat(server: Server) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    assert alice.has(":bob!~bob@") and alice.has("JOIN #room")
    bob.send("PRIVMSG #room :hello all")
    assert any(line.endswith("PRIVMSG #room :hello all") for line in alice.lines())
    assert not any("hello all" in line for line in bob.lines())  # no echo without the cap
    bob.send("PRIVMSG alice :just you")
    assert any(line.endswith("PRIVMSG alice :just you") for line in alice.lines())


def test_nick_in_use_is_refused_before_and_after_registration(server: Server) -> None:
    server.register("alice")
    bob = server.connect()
    bob.send("NICK ALICE")
    assert bob.has(" 433 * ALICE ")
    bob.send("NICK bob", "USER bob 0 * :Bob")
    assert bob.has(" 001 bob ")
    bob.clear()
    bob.send("NICK Alice")
    assert bob.has(" 433 ")


def test_cap_negotiation_holds_registration_until_cap_end(server: Server) -> None:
    client = server.connect()
    client.send("CAP LS 302", "NICK carol", "USER carol 0 * :Carol")
    assert client.has("CAP * LS :") and client.has("labeled-response")
    assert not client.has(" 001 ")
    client.send("CAP REQ :echo-message bogus-cap")
    assert client.has("CAP carol NAK :echo-message bogus-cap")
    client.send("CAP REQ :echo-message server-time")
    assert client.has("CAP carol ACK :echo-message server-time")
    client.send("CAP END")
    assert client.has(" 001 carol ")
    client.clear()
    client.send("CAP LIST")
    assert client.has("CAP carol LIST :cap-notify echo-message server-time")


def test_echo_label_msgid_and_time_tags(server: Server) -> None:
    caps = ("echo-message", "labeled-response", "message-tags", "server-time", "batch")
    alice = server.register("alice", caps)
    bob = server.register("bob", ("message-tags",))
    alice.send("JOIN #t")
    bob.send("JOIN #t")
    alice.clear()
    bob.clear()
    alice.send("@label=abc PRIVMSG #t :tagged")
    (echo,) = [line for line in alice.lines() if "PRIVMSG #t :tagged" in line]
    (seen,) = [line for line in bob.lines() if "PRIVMSG #t :tagged" in line]
    assert "label=abc" in echo and "time=" in echo
    echo_tags = dict(t.split("=", 1) for t in echo[1:].split(" ", 1)[0].split(";"))
    seen_tags = dict(t.split("=", 1) for t in seen[1:].split(" ", 1)[0].split(";"))
    assert echo_tags["msgid"] == seen_tags["msgid"]
    assert "time" in seen_tags  # message-tags lets a client see every tag
    assert "label" not in seen_tags


def test_labeled_query_with_several_replies_is_batched(server: Server) -> None:
    alice = server.register("alice", ("labeled-response", "batch"))
    alice.send("JOIN #x")
    alice.clear()
    alice.send("@label=q1 NAMES #x")
    lines = alice.lines()
    assert lines[0].startswith("@label=q1 :irc.test BATCH +")
    ref = lines[0].split()[3][1:]
    assert all(f"batch={ref}" in line for line in lines[1:-1])
    assert lines[-1].endswith(f"BATCH -{ref}")
    assert any(" 366 " in line for line in lines)


def test_labeled_command_without_replies_gets_ack(server: Server) -> None:
    alice = server.register("alice", ("labeled-response",))
    server.register("bob")
    alice.send("@label=p1 PRIVMSG bob :hi")
    assert alice.lines() == ["@label=p1 :irc.test ACK"]


def test_flood_is_delayed_then_disconnected() -> None:
    server = Server(flood_burst=5, flood_rate=1.0, flood_backlog=10)
    alice, bob = server.register("alice"), server.register("bob")
    server.clock.advance(10)  # refill the bucket spent on registration
    alice.clear()
    alice.send(*[f"PRIVMSG bob :line {i}" for i in range(8)])
    got = [line for line in bob.lines() if "PRIVMSG bob :line" in line]
    assert 4 <= len(got) < 8  # the burst went through, the rest waits (fakelag)
    server.clock.advance(5)
    got = [line for line in bob.lines() if "PRIVMSG bob :line" in line]
    assert len(got) == 8  # nothing accepted is lost
    alice.send(*[f"PRIVMSG bob :flood {i}" for i in range(40)])
    assert alice.has("ERROR :Closing Link") and alice.has("Excess Flood")
    assert alice.closed
    bob.clear()
    carol = server.register("carol")
    carol.send("PRIVMSG bob :still here")
    assert bob.has("PRIVMSG bob :still here")


def test_flood_rate_zero_turns_flood_control_off() -> None:
    server = Server(flood_rate=0.0)
    alice, bob = server.register("alice"), server.register("bob")
    alice.send(*[f"PRIVMSG bob :line {i}" for i in range(200)])
    assert len([line for line in bob.lines() if "PRIVMSG bob :line" in line]) == 200
    assert not alice.closed


def test_bad_lines_get_answers_and_harm_nobody(server: Server) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    alice.send_raw(b"PRIVMSG bob :" + b"x" * 600 + b"\r\n")
    assert alice.has(" 417 ")
    alice.send_raw(b"PRIVMSG bob :bare\rcr\r\n")
    assert alice.has(" 400 ")
    alice.send_raw(b"PRIVMSG bob :nul\x00byte\r\n")
    assert alice.has(" 400 ") or alice.has(" 417 ")
    alice.send_raw(b"PRIVMSG bob :\xff\xfe bad utf8\r\n")
    assert alice.has("FAIL PRIVMSG INVALID_UTF8 :Message rejected")  # IRCv3 UTF8ONLY
    alice.send_raw(b"\xff\xfe\r\n")
    assert alice.has("FAIL * INVALID_UTF8")  # not even a command to name
    alice.send("FROBNICATE now")
    assert alice.has(" 421 alice FROBNICATE ")
    alice.send_raw(b"@" + b"a=b;" * 3000 + b" PRIVMSG bob :big tags\r\n")
    assert not alice.closed
    alice.send("PRIVMSG bob :after all that")
    assert bob.has("PRIVMSG bob :after all that")
    assert not any(
        "nul" in line or "bad utf8" in line or "big tags" in line for line in bob.lines()
    )


def test_registration_timeout(server: Server) -> None:
    client = server.connect()
    client.send("NICK slow")
    server.clock.advance(61)
    assert client.has("ERROR :Closing Link") and client.has("Registration timed out")
    assert client.closed


def test_silent_client_is_pinged_then_dropped(server: Server) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("JOIN #k")
    bob.send("JOIN #k")
    server.clock.advance(121)
    assert alice.has("PING :irc.test")
    alice.send("PONG :irc.test")
    bob.send("PONG :irc.test")
    server.clock.advance(61)
    assert not alice.closed
    for _ in range(30):  # alice is silent from now on, bob is not
        server.clock.advance(10)
        bob.send("PING :still-here")
    assert alice.closed and alice.has("Ping timeout")
    alice.connection_lost()
    assert any("QUIT" in line and "alice" in line for line in bob.lines())


def test_full_node_refuses_with_error() -> None:
    server = Server(max_clients=2)
    server.register("a1")
    server.register("a2")
    third = server.connect()
    assert third.has("ERROR :Closing Link") and third.has("Server full")
    assert third.closed


def test_client_that_does_not_read_is_dropped_for_sendq() -> None:
    server = Server(sendq_bytes=10_000, flood_rate=0.0)
    alice, bob = server.register("alice"), server.register("bob")
    bob.protocol.pauseProducing()  # what the transport does when bob stops reading
    alice.send(*[f"PRIVMSG bob :{'y' * 200}" for i in range(100)])
    assert bob.closed
    alice.send("PING :alive")
    assert alice.has("PONG irc.test alive") or alice.has("PONG irc.test :alive")


def test_quit_is_seen_by_channel_members(server: Server) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("JOIN #q")
    bob.send("JOIN #q")
    bob.send("QUIT :bye now")
    assert bob.has("ERROR :Closing Link")
    assert any("QUIT :Quit: bye now" in line for line in alice.lines())


def test_numerics_follow_a_nick_change(server: Server) -> None:
    alice = server.register("alice")
    alice.send("NICK alicia")
    assert any(line.startswith(":alice!") and " NICK " in line for line in alice.lines())
    alice.clear()
    alice.send_raw(b"PRIVMSG x :" + b"x" * 600 + b"\r\n")
    assert alice.has(" 417 alicia ")


def test_cut_off_node_refuses_writes_keeps_reads_and_says_so(server: Server) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    alice.send("JOIN #p")
    alice.clear()
    server.log.accepting = False  # the majority is out of reach
    server.clock.advance(1)
    assert alice.has("NOTICE alice :*** This server lost contact with the cluster majority")
    alice.send("PRIVMSG bob :lost?")
    assert alice.has(" 400 alice PRIVMSG :Cluster has no quorum")
    assert not bob.has("lost?")
    alice.send("NAMES #p")
    assert alice.has(" 353 alice = #p ")  # reads still work from the replica
    alice.clear()
    server.log.accepting = True
    server.clock.advance(1)
    assert alice.has("NOTICE alice :*** This server is back in contact with the cluster")
    alice.send("PRIVMSG bob :back")
    assert bob.has("PRIVMSG bob :back")


def test_lines_pipelined_behind_registration_wait_for_it(server: Server) -> None:
    bob = server.register("bob")
    client = server.connect()
    client.send_raw(b"NICK eager\r\nUSER eager 0 * :Eager\r\nJOIN #now\r\nPRIVMSG bob :hi\r\n")
    assert client.has(" 001 eager ") and client.has(" 366 eager #now ")
    assert not client.has(" 451 ")
    assert bob.has("PRIVMSG bob :hi")


def test_register_and_identify_keep_the_password_out_of_the_log(server: Server) -> None:
    alice = server.register("alice")
    watcher = server.register("watcher", ("account-notify",))
    alice.send("JOIN #acc")
    watcher.send("JOIN #acc")
    alice.send("REGISTER * * hunter2hunter2")
    assert alice.has("REGISTER SUCCESS alice Registered") and alice.has(" 900 alice ")
    assert any(line.startswith(":alice!") and " ACCOUNT alice" in line for line in watcher.lines())
    alice.send("REGISTER * * short")
    assert alice.has("FAIL REGISTER WEAK_PASSWORD")
    bob = server.register("bob")
    bob.send("PRIVMSG NickServ :IDENTIFY alice wrong-password")
    assert bob.has(":NickServ!NickServ@services. NOTICE bob :Invalid account or password.")
    bob.send("PRIVMSG NickServ :IDENTIFY alice hunter2hunter2")
    assert bob.has(" 900 bob ")
    logged = b"".join(server.log.entries)
    assert b"hunter2" not in logged and b"wrong-password" not in logged
    assert b"scrypt$" in logged


def test_account_notify_needs_its_capability(server: Server) -> None:
    alice, plain = server.register("alice"), server.register("plain")
    alice.send("JOIN #n")
    plain.send("JOIN #n")
    plain.clear()
    alice.send("REGISTER * * long-enough-pw")
    assert not plain.has(" ACCOUNT ")


def test_sasl_plain_logs_in_during_registration(server: Server) -> None:
    import base64

    owner = server.register("owner")
    owner.send("REGISTER carol * correct-horse")
    client = server.connect()
    client.send("CAP LS 302", "CAP REQ :sasl", "NICK carol", "USER carol 0 * :Carol")
    assert client.has(" ACK ") and client.has("sasl")
    client.send("AUTHENTICATE PLAIN")
    assert client.has("AUTHENTICATE +")
    client.send("AUTHENTICATE " + base64.b64encode(b"\0carol\0wrong").decode())
    assert client.has(" 904 carol ")
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + base64.b64encode(b"\0carol\0correct-horse").decode())
    assert client.has(" 900 carol carol!*@") and client.has(" 903 carol ")
    assert not client.has(" 001 ")  # registration still waits for CAP END
    client.send("CAP END")
    assert client.has(" 001 carol ")
    owner.send("WHOIS carol")
    assert owner.has(" 330 owner carol carol ")  # the CONNECT entry carried the account
    assert b"correct-horse" not in b"".join(server.log.entries)


def test_registering_mid_exchange_aborts_it_with_906(server: Server) -> None:
    client = server.connect()
    client.send("CAP LS 302", "CAP REQ :sasl", "NICK dan", "USER dan 0 * :Dan")
    client.send("AUTHENTICATE PLAIN", "CAP END")  # the client gave up waiting
    lines = client.lines()
    aborted = next(i for i, line in enumerate(lines) if " 906 dan " in line)
    assert aborted < next(i for i, line in enumerate(lines) if " 001 dan " in line)


def test_sasl_after_registration_points_to_identify(server: Server) -> None:
    alice = server.register("alice", ("sasl",))
    alice.send("AUTHENTICATE PLAIN")
    assert alice.has(" 462 alice :You may not reregister; to log in now, use NickServ IDENTIFY")
