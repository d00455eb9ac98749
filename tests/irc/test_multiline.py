"""IRCv3 draft/multiline: a batch in, one whole message through the log and history, and
each client's own form out (the batch, or one line each)."""

from __future__ import annotations

from tests.memorylog import Client, Server
from twistedchat.irc.multiline import LINE_TEXT, Collector, MultilineError, lines_for
from twistedchat.wire.message import Message

CAPS = ("draft/multiline", "batch", "message-tags", "echo-message", "labeled-response")


def send_batch(
    client: Client, ref: str, target: str, *lines: str, concat: int | None = None
) -> None:
    client.send(f"@label=ml BATCH +{ref} draft/multiline {target}")
    for i, line in enumerate(lines):
        tag = f"@batch={ref};draft/multiline-concat" if i == concat else f"@batch={ref}"
        client.send(f"{tag} PRIVMSG {target} :{line}")
    client.send(f"BATCH -{ref}")


def test_a_batch_reaches_each_client_in_its_own_form_and_history_keeps_it_whole() -> None:
    server = Server()
    alice = server.register("alice", caps=CAPS)
    modern = server.register("modern", caps=("draft/multiline", "batch"))
    plain = server.register("plain")
    for client in (alice, modern, plain):
        client.send("JOIN #a")
    for client in (alice, modern, plain):
        client.clear()
    send_batch(alice, "x1", "#a", "first line", "", "second ", "part", concat=3)
    got = modern.lines()
    assert got[0].startswith(":alice!~alice@192.168.1.1 BATCH +ml") and got[0].endswith(
        " draft/multiline #a"
    )
    ref = got[0].split(" BATCH +", 1)[1].split(" ")[0]
    assert got[1:] == [
        f"@batch={ref} :alice!~alice@192.168.1.1 PRIVMSG #a :first line",
        f"@batch={ref} :alice!~alice@192.168.1.1 PRIVMSG #a :",
        f"@batch={ref} :alice!~alice@192.168.1.1 PRIVMSG #a :second part",
        f":alice!~alice@192.168.1.1 BATCH -{ref}",
    ]
    assert plain.lines() == [
        ":alice!~alice@192.168.1.1 PRIVMSG #a :first line",
        ":alice!~alice@192.168.1.1 PRIVMSG #a :second part",
    ]
    echo = alice.lines()  # the echo, in the labelled batch its command's answer goes in
    assert echo[0].startswith("@label=ml ") and echo[0].endswith(" labeled-response")
    assert sum(" PRIVMSG #a :" in line for line in echo) == 3
    alice.clear()
    alice.send("CHATHISTORY LATEST #a * 10")
    history = [line for line in alice.lines() if " PRIVMSG #a" in line or " BATCH " in line]
    assert sum(" PRIVMSG #a :" in line for line in history) == 3  # one message, three lines
    assert sum("draft/multiline #a" in line for line in history) == 1


def test_batches_past_the_limits_or_rules_are_refused_whole() -> None:
    server = Server(flood_rate=0)  # many batches in a row: flood control is tested below
    alice = server.register("alice", caps=CAPS)
    bob = server.register("bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    bob.clear()
    send_batch(alice, "big", "#a", *(["line"] * 25))
    assert alice.has("FAIL BATCH MULTILINE_MAX_LINES 24 ")
    alice.send("@label=t BATCH +t draft/multiline #a", "@batch=t PRIVMSG #b :elsewhere", "BATCH -t")
    assert alice.has("FAIL BATCH MULTILINE_INVALID_TARGET #a #b ")
    send_batch(alice, "e", "#a", "", "")
    assert alice.has("FAIL BATCH MULTILINE_INVALID ")
    assert bob.lines() == []  # nothing of a refused batch went out
    plain = server.register("plain")
    plain.send("BATCH +p draft/multiline #a")
    assert plain.has("FAIL BATCH MULTILINE_INVALID :Negotiate draft/multiline first")


def test_a_batch_takes_two_flood_tokens_however_many_lines_it_has() -> None:
    """24 lines at once would be an Excess Flood (burst 10, backlog 20) line by line."""
    server = Server()
    alice = server.register("alice", caps=CAPS)
    bob = server.register("bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    bob.clear()
    send_batch(alice, "full", "#a", *(f"line {i}" for i in range(24)))
    assert not alice.closed
    assert [line.rsplit(":", 1)[1] for line in bob.lines()] == [f"line {i}" for i in range(24)]
    alice.send("BATCH +spam draft/multiline #a", *(["@batch=spam PRIVMSG #a :x"] * 60))
    assert alice.has("FAIL BATCH MULTILINE_MAX_LINES") and alice.closed  # past it: per line


def test_a_long_line_is_cut_with_concat_and_a_collector_counts_bytes() -> None:
    long = "é" * LINE_TEXT  # two bytes a character: cut at character boundaries
    message = Message("PRIVMSG", ("#a", f"short\n{long}"), "n!u@h", {"msgid": "1-1"})
    batch = lines_for(message, {"draft/multiline", "batch"})
    body = batch[1:-1]
    assert body[0].params[1] == "short"
    assert "".join(m.params[1] for m in body[1:]) == long
    assert [("draft/multiline-concat" in m.tags) for m in body] == [False, False, True]
    collector = Collector("r", "#a", {})
    collector.add(Message("PRIVMSG", ("#a", "x" * 4000)))
    try:
        collector.add(Message("PRIVMSG", ("#a", "x" * 97)))
    except MultilineError as error:
        assert error.code == "MULTILINE_MAX_BYTES"
    else:
        raise AssertionError("4097 bytes were taken")
