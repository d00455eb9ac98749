"""draft/multiline under hostile batches: whatever a client sends, a plain member only
ever gets whole, well-formed PRIVMSGs, and a client with the capability gets back the
text that was sent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import FUZZ
from tests.memorylog import Server
from twistedchat.irc.multiline import CONCAT_TAG, lines_for
from twistedchat.wire.grammar import parse_line
from twistedchat.wire.message import Message

_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=500)


@FUZZ
@given(st.lists(_text, min_size=2, max_size=24))
def test_a_batch_client_reads_back_the_text_and_a_plain_one_its_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    message = Message("PRIVMSG", ("#a", text), "n!u@h", {"msgid": "1-1"})
    batch = lines_for(message, {"draft/multiline", "batch"})
    assert batch[0].command == batch[-1].command == "BATCH"
    read = ""
    for i, line in enumerate(batch[1:-1]):
        read += ("" if CONCAT_TAG in line.tags or i == 0 else "\n") + line.params[1]
        assert len(line.params[1].encode()) <= 350
    assert read == text
    plain = lines_for(message, set())
    assert [m.params[1] for m in plain] == [line for line in lines if line]
    assert [("msgid" in m.tags) for m in plain] == [i == 0 for i in range(len(plain))]


_ref = st.sampled_from(["a", "b", ""])
_line = st.one_of(
    st.builds(lambda r: f"BATCH +{r} draft/multiline #a", _ref),
    st.builds(lambda r: f"BATCH -{r}", _ref),
    st.builds(lambda r, t: f"@batch={r} PRIVMSG #a :{t}", _ref, st.sampled_from(["x", "", "é"])),
    st.builds(lambda r: f"@batch={r};draft/multiline-concat PRIVMSG #a :y", _ref),
    st.builds(lambda r: f"@batch={r} NOTICE #a :n", _ref),
    st.builds(lambda r: f"@batch={r} PRIVMSG #b :elsewhere", _ref),
    st.just("BATCH +c other-type #a"),
    st.just("PRIVMSG #a :plain"),
)


@FUZZ
@given(st.lists(_line, max_size=60))
def test_hostile_batches_reach_a_plain_member_only_as_whole_lines(lines: list[str]) -> None:
    server = Server(flood_rate=0)
    alice = server.register("alice", caps=("draft/multiline", "batch", "message-tags"))
    bob = server.register("bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    bob.clear()
    alice.send(*lines)
    for raw in bob.lines():
        message = parse_line(raw.encode())
        assert message.command in ("PRIVMSG", "NOTICE"), raw
        assert message.source == "alice!~alice@192.168.1.1" and message.params[0] == "#a"
        assert message.params[1] and "\n" not in message.params[1]
