"""The IRC grammar against the community parser test vectors and our own limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parser_tests.data import msg_join, msg_split

from twistedchat.wire.grammar import (
    InvalidUtf8,
    ParseError,
    escape_tag_value,
    parse_line,
    serialize,
    unescape_tag_value,
)
from twistedchat.wire.message import Message


@pytest.mark.parametrize("case", msg_split["tests"], ids=lambda case: case["input"][:40])
def test_split_vectors(case: dict) -> None:
    atoms = case["atoms"]
    message = parse_line(case["input"].encode())
    assert message.command == atoms["verb"].upper()
    assert list(message.params) == atoms.get("params", [])
    assert message.source == atoms.get("source")
    expected_tags = {k: (v or "") for k, v in (atoms.get("tags") or {}).items()}
    assert dict(message.tags) == expected_tags


@pytest.mark.parametrize("case", msg_join["tests"], ids=lambda case: case["desc"][:40])
def test_join_vectors_round_trip(case: dict) -> None:
    """What we serialise parses back to the same atoms (the vectors allow several forms)."""
    atoms = case["atoms"]
    message = Message(
        atoms["verb"],
        tuple(atoms.get("params", [])),
        atoms.get("source") or "server.example",
        {k: (v or "") for k, v in (atoms.get("tags") or {}).items()},
    )
    line = serialize(message, "unused")
    assert line.endswith(b"\r\n")
    again = parse_line(line[:-2])
    assert again.params == message.params
    assert again.source == message.source
    assert dict(again.tags) == dict(message.tags)


def test_serialize_without_source_is_from_the_server() -> None:
    assert serialize(Message("PING", ("x",)), "irc.test") == b":irc.test PING :x\r\n"


def test_serialize_cannot_inject_a_second_line() -> None:
    line = serialize(Message("PRIVMSG", ("#c", "a\r\nQUIT :x")), "s")
    assert line.count(b"\r\n") == 1 and b"\n" not in line[:-2]


def test_serialize_cuts_an_overlong_body_on_a_character_boundary() -> None:
    line = serialize(Message("PRIVMSG", ("#c", "é" * 400)), "s")
    assert len(line) <= 512
    line[:-2].decode("utf-8")  # still valid UTF-8


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", ParseError),
        (b":onlysource", ParseError),
        (b"PRIV MSG", None),
        (b"PRI\x00VMSG x", ParseError),
        (b"PRIVMSG #c :a\rQUIT", ParseError),
        (b"PRIVMSG #c :" + b"x" * 600, ParseError),
        (b"@" + b"a" * 5000 + b" PING x", ParseError),
        (b"PRIVMSG #c :\xff\xfe", InvalidUtf8),
        (b"PRIV:MSG x", ParseError),
        (b"@bad key=1 PING x", ParseError),
    ],
)
def test_malformed_lines_raise(raw: bytes, error: type[Exception] | None) -> None:
    if error is None:
        assert parse_line(raw).command == "PRIV"
    else:
        with pytest.raises(error):
            parse_line(raw)


@pytest.mark.parametrize("word", ["12", "FOO_BAR", "x1", "NO-SUCH"])
def test_an_unknown_word_is_a_command_for_a_421_not_a_malformed_line(word: str) -> None:
    assert parse_line(f"{word} x".encode()).command == word.upper()


def test_overlong_error_says_long() -> None:
    """The connection answers 417 when the parse error is about length."""
    with pytest.raises(ParseError, match="long"):
        parse_line(b"PRIVMSG #c :" + b"x" * 600)


def test_at_most_fifteen_params() -> None:
    message = parse_line(b"CMD " + b" ".join(b"p%d" % i for i in range(20)))
    assert len(message.params) == 15
    assert message.params[-1].startswith("p14 p15")


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=50))
def test_tag_escaping_round_trips(value: str) -> None:
    assert unescape_tag_value(escape_tag_value(value)) == value


@given(
    st.lists(
        st.text(
            alphabet=st.characters(exclude_characters="\r\n\0 :", exclude_categories=["Cs"]),
            min_size=1,
            max_size=10,
        ),
        max_size=5,
    ),
    st.text(alphabet=st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"])),
)
def test_params_round_trip(middle: list[str], trailing: str) -> None:
    message = Message("PRIVMSG", (*middle, trailing), "n!u@h")
    line = serialize(message, "s")
    if len(line) <= 512:
        assert parse_line(line[:-2]).params == message.params


@given(st.binary(max_size=700))
def test_arbitrary_bytes_parse_or_raise_parse_error(raw: bytes) -> None:
    try:
        message = parse_line(raw)
    except ParseError:
        return
    assert message.command == message.command.upper()
    assert message.command.replace("_", "").replace("-", "").isalnum()
    assert len(message.params) <= 15
