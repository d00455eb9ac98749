"""Fuzzing the public directory: answers any node (or impostor) may send a client, and
queries anyone may send a node's IRC port.

The contract: whatever arrives, the client's reader either returns an answer whose
references point at listed nodes, or raises :class:`Refused` with a reason from
:data:`REASONS`; the node's query parser likewise. Nothing else is ever raised.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import FUZZ
from twistedchat.client.known_nodes import KnownNodes
from twistedchat.discovery.public import REASONS, AnswerReader, Refused, parse_query
from twistedchat.wire.grammar import ParseError, parse_line
from twistedchat.wire.message import Message

NONCE = "fuzznonce123"
_word = st.sampled_from(
    ["NODE", "LEADER", "ASSIGN", "END", NONCE, "leader", "follower", "open", "full", "*",
     "0", "1", "2", "127.0.0.1:6667", "127.0.0.1:1", "10.0.0.1:6667", "x:0"]
) | st.text(max_size=12)  # fmt: skip
_line = st.lists(_word, max_size=8).map(lambda words: ("NOTE", ("NODES", *words)))
_other = st.tuples(st.sampled_from(["FAIL", "451", "NOTE", "PING"]), st.lists(_word, max_size=4))


@FUZZ
@given(st.lists(_line | _other, max_size=40))
def test_the_reader_returns_a_consistent_answer_or_refuses(
    lines: list[tuple[str, tuple[str, ...] | list[str]]],
) -> None:
    reader = AnswerReader(NONCE)
    try:
        for command, params in lines:
            answer = reader.feed(Message(command, tuple(params)))
            if answer is not None:
                for index in (answer.leader, answer.assigned):
                    assert index is None or 0 <= index < len(answer.nodes)
                assert answer.assigned is None or answer.role == "leader"
                try:
                    KnownNodes(["127.0.0.1:6667"], tls=False).check("127.0.0.1:6667", answer)
                except Refused as refused:
                    assert refused.reason == "implausible"
                return
    except Refused as refused:
        assert refused.reason in REASONS


@FUZZ
@given(st.binary(max_size=600))
def test_queries_parse_or_are_refused(raw: bytes) -> None:
    try:
        message = parse_line(b"NODES " + raw.replace(b"\n", b"").replace(b"\r", b""))
    except ParseError:
        return
    try:
        nonce, excluded = parse_query(message)
    except Refused as refused:
        assert refused.reason == "garbage"
        return
    assert 8 <= len(nonce) <= 32 and len(excluded) <= 8
