"""Fuzzing the IRC line framer, parser and serialiser: the first code a client's bytes reach.

Every byte a client sends passes through :class:`~twistedchat.wire.framing.LineFramer` and
:func:`~twistedchat.wire.grammar.parse_line` before any check of who the client is, so an
unexpected exception there is a remote way to drop connections (or worse, the node).
"""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.fuzz.budget import FUZZ, FUZZ_HEAVY
from twistedchat.wire.framing import MAX_LINE, FrameTooLong, LineFramer
from twistedchat.wire.grammar import (
    MAX_BODY,
    MAX_CLIENT_TAGS,
    MAX_PARAMS,
    MAX_SERVER_TAGS,
    InvalidUtf8,
    ParseError,
    escape_tag_value,
    parse_line,
    serialize,
)
from twistedchat.wire.message import Message

SERVER = "irc.fuzz"

# -- building blocks -------------------------------------------------------------------------

_text_char = st.characters(codec="utf-8", exclude_characters="\r\n\0")
_word_char = st.characters(codec="utf-8", exclude_characters="\r\n\0 ")
_middle = st.text(_word_char, min_size=1, max_size=12).filter(lambda p: not p.startswith(":"))
_trailing = st.text(_text_char, max_size=40)
_command = (
    st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "MODE", "PING", "TOPIC", "KICK", "CAP"])
    | st.text(st.sampled_from(string.ascii_letters), min_size=1, max_size=10)
    | st.integers(0, 999).map(lambda n: f"{n:03d}")
)
_source = st.none() | st.text(_word_char, min_size=1, max_size=30)
_tag_key = st.builds(
    lambda plus, vendor, name: ("+" if plus else "") + (f"{vendor}/" if vendor else "") + name,
    st.booleans(),
    st.none() | st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True),
)
_tags = st.dictionaries(_tag_key, st.text(st.characters(codec="utf-8", exclude_characters="\0")))


# -- raw input -----------------------------------------------------------------------------

#: Pieces that matter to the grammar, so random lines often get past the first checks.
_TOKENS = [
    b"@",
    b":",
    b" ",
    b"  ",
    b";",
    b"=",
    b"\\",
    b"\\s",
    b"\\:",
    b"+",
    b"/",
    b".",
    b"-",
    b"\r",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\xf0\x9f\x98\x80",
    b"PRIVMSG",
    b"privmsg",
    b"001",
    b"1234",
    b"#chan",
    b"nick!user@host",
    b"a",
    b"Z",
    b"0",
    b"time",
    b"+draft/reply",
    b"example.com/key",
]
_token_lines = st.lists(st.sampled_from(_TOKENS) | st.binary(max_size=3), max_size=40).map(b"".join)


@st.composite
def _near_limits(draw: st.DrawFn) -> bytes:
    """A line whose tag section or body is a few bytes either side of the limits."""
    tag_len = draw(
        st.sampled_from([0, 1, MAX_CLIENT_TAGS - 1, MAX_CLIENT_TAGS, MAX_CLIENT_TAGS + 1])
    )
    body_len = draw(st.integers(MAX_BODY - 3, MAX_BODY + 3) | st.integers(0, 20))
    tail = draw(st.sampled_from([b"a", b"\xc3\xa9", b" ", b":"]))
    tags = b"@" + (b"k=" + b"v" * (tag_len - 2) if tag_len >= 2 else b"k" * tag_len) + b" "
    body = (b"PRIVMSG #c :" + tail * body_len)[:body_len] if body_len else b""
    return (tags if draw(st.booleans()) else b"") + body


_spaces = st.text(" ", min_size=1, max_size=3)
_tag_raw_value = st.lists(
    st.sampled_from(["\\", "\\s", "\\:", "\\r", "\\n", "\\\\", "\\x", "=", "é", "v"]),
    max_size=6,
).map("".join)


@st.composite
def _grammatical_lines(draw: st.DrawFn) -> bytes:
    """Lines built from the grammar's parts with odd spacing, escapes and casing: most of
    them parse, so properties about parsed messages get exercised."""
    line = ""
    if draw(st.booleans()):
        items = draw(st.lists(st.tuples(_tag_key, st.none() | _tag_raw_value), max_size=4))
        tags = ";".join(k if v is None else f"{k}={v}" for k, v in items)
        line += "@" + tags + draw(_spaces)
    if draw(st.booleans()):
        line += ":" + draw(st.text(_word_char, min_size=1, max_size=20)) + draw(_spaces)
    line += draw(_command)
    for _ in range(draw(st.integers(0, MAX_PARAMS + 2))):
        line += draw(_spaces) + draw(_middle)
    if draw(st.booleans()):
        line += draw(_spaces) + ":" + draw(_trailing)
    return line.encode()


raw_lines = st.binary(max_size=600) | _token_lines | _near_limits() | _grammatical_lines()


def _parse_or_none(raw: bytes) -> Message | None:
    try:
        return parse_line(raw)
    except ParseError:  # InvalidUtf8 is a ParseError
        return None


# -- valid messages --------------------------------------------------------------------------


@st.composite
def valid_messages(draw: st.DrawFn) -> Message:
    """Messages a well-behaved server could send, small enough to need no truncation."""
    params = draw(st.lists(_middle, max_size=MAX_PARAMS - 1))
    if draw(st.booleans()):
        params.append(draw(_trailing))
    message = Message(draw(_command), tuple(params), draw(_source), draw(_tags))
    source = message.source if message.source is not None else SERVER
    # Upper bound of the serialised body: source, command, params, separators, one colon.
    body = len(f":{source} {message.command}".encode()) + 1
    body += sum(len(p.encode()) + 1 for p in message.params)
    assume(body <= MAX_BODY)
    tags = sum(len(k) + 2 + len(escape_tag_value(v).encode()) for k, v in message.tags.items())
    assume(tags <= MAX_CLIENT_TAGS)
    return message


# -- the parser ------------------------------------------------------------------------------


@FUZZ
@given(raw_lines)
def test_parse_line_raises_nothing_but_parse_error(raw: bytes) -> None:
    """Any bytes either parse or raise ParseError: the connection answers those politely,
    while any other exception would escape into Twisted and drop the client (or a node).
    What does parse must respect the grammar's own limits."""
    message = _parse_or_none(raw)
    if message is None:
        return
    assert message.command.isascii() and message.command == message.command.upper()
    assert message.command.replace("_", "").replace("-", "").isalnum()  # 421 if unknown
    assert len(message.params) <= MAX_PARAMS
    for middle in message.params[:-1]:
        assert middle and " " not in middle and not middle.startswith(":")
    assert message.source is None or (message.source and " " not in message.source)


@FUZZ
@given(raw_lines)
def test_invalid_utf8_is_reported_as_such(raw: bytes) -> None:
    """Lines that are not UTF-8 must raise InvalidUtf8 (answered with FAIL INVALID_UTF8),
    and lines that are must never be blamed on their encoding."""
    assume(b"\0" not in raw and b"\r" not in raw)
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    try:
        parse_line(raw)
    except InvalidUtf8:
        assert not valid
        return
    except ParseError:
        return
    assert valid


@FUZZ
@given(_grammatical_lines() | raw_lines)
def test_what_parses_survives_serialize_and_parse_again(raw: bytes) -> None:
    """Relaying a client's message (parse, then serialise to others) must not change it:
    otherwise one client could make another see different parameters than were sent."""
    raw = raw.replace(b"\n", b"")  # the framer never hands out a line with LF in it
    _, _, body = raw.partition(b" ") if raw.startswith(b"@") else (b"", b"", raw)
    assume(len(body) <= MAX_BODY - len(SERVER) - 3)  # room for ":server " and a colon
    message = _parse_or_none(raw)
    assume(message is not None)
    assert message is not None
    line = serialize(message, SERVER)
    assert line.endswith(b"\r\n")
    again = parse_line(line[:-2])
    assert again.command == message.command
    assert again.params == message.params
    assert again.source == (message.source if message.source is not None else SERVER)
    assert dict(again.tags) == dict(message.tags)


# -- the serialiser ---------------------------------------------------------------------------


@FUZZ
@given(valid_messages())
def test_serialize_then_parse_round_trips(message: Message) -> None:
    """Every message the server builds must reach clients exactly as built: the same
    command, parameters, source and (unescaped) tag values."""
    line = serialize(message, SERVER)
    assert line.endswith(b"\r\n") and line.count(b"\n") == 1
    parsed = parse_line(line[:-2])
    assert parsed.command == message.command.upper()
    assert parsed.params == message.params
    assert parsed.source == (message.source if message.source is not None else SERVER)
    assert dict(parsed.tags) == dict(message.tags)


@FUZZ
@given(
    _command,
    st.lists(st.text(st.characters(codec="utf-8"), max_size=200), max_size=MAX_PARAMS),
    _source,
    st.dictionaries(_tag_key, st.text(st.characters(codec="utf-8", exclude_characters="\0"))),
)
def test_serialize_never_injects_a_line(
    command: str, params: list[str], source: str | None, tags: dict[str, str]
) -> None:
    """Parameters come from other users (a PRIVMSG text, a topic, a kick reason): whatever
    they hold, the output must be one well-formed line of at most 512 bytes of body, or a
    client could smuggle a second command or oversize line to everyone in a channel."""
    line = serialize(Message(command, tuple(params), source, tags), SERVER)
    assert line.endswith(b"\r\n")
    content = line[:-2]
    assert b"\r" not in content and b"\n" not in content and b"\0" not in content
    content.decode("utf-8")
    body = content.partition(b" ")[2] if content.startswith(b"@") else content
    assert len(body) <= MAX_BODY
    tag_section = content.partition(b" ")[0] if content.startswith(b"@") else b""
    assert len(tag_section) <= 1 + MAX_SERVER_TAGS


def test_middle_parameter_starting_with_colon_keeps_the_parameter_count() -> None:
    """A channel key may start with ':' (MODE #c +lk 5 ::x); RPL_CHANNELMODEIS puts it
    before the limit. No middle parameter can start with ':' on the wire, so the ':'
    becomes '_' (as a space does) rather than swallowing the limit."""
    message = Message("324", ("alice", "#c", "+kl", ":x", "5"))
    assert parse_line(serialize(message, SERVER)[:-2]).params == ("alice", "#c", "+kl", "_x", "5")


@FUZZ
@given(_command, st.lists(st.text(st.characters(codec="utf-8"), max_size=6), max_size=MAX_PARAMS))
def test_serialize_keeps_the_parameter_count(command: str, params: list[str]) -> None:
    """Whatever a middle parameter holds (spaces, nothing, a leading ':'), the client must
    see as many parameters as were sent, each in its place. (Short parameters, so the body
    is never cut to 512 bytes, which would drop some.)"""
    line = serialize(Message(command, tuple(params)), SERVER)
    assert len(parse_line(line[:-2]).params) == len(params)


def test_truncated_tag_section_stays_valid_utf8() -> None:
    """Clients reject (or mangle) a line that is not UTF-8, so a cut must not split a char."""
    line = serialize(Message("TAGMSG", ("#c",), "n!u@h", {"+xy": "é" * 5000}), SERVER)
    line.decode("utf-8")


def test_tags_that_do_not_fit_are_dropped_whole() -> None:
    """Half a tag would reach clients with a wrong value; the tags that fit still go out."""
    tags = {"time": "t", "+big": "x" * MAX_SERVER_TAGS, "msgid": "m"}
    line = serialize(Message("TAGMSG", ("#c",), "n!u@h", tags), SERVER)
    assert dict(parse_line(line[:-2]).tags) == {"time": "t", "msgid": "m"}


# -- the framer --------------------------------------------------------------------------------


def _expected_lines(stream: bytes, max_line: int) -> tuple[list[bytes], bool]:
    """What the framer should hand out for ``stream``: complete lines with at most
    ``max_line`` bytes before an optional CR, and whether any line (or the unterminated
    rest) was too long and so must have been reported."""
    *complete, rest = stream.split(b"\n")
    stripped = [line[:-1] if line.endswith(b"\r") else line for line in complete]
    kept = [line for line in stripped if len(line) <= max_line]
    # The unterminated rest may still be waiting for the LF of its CR LF, hence the +1.
    return kept, len(kept) < len(stripped) or len(rest) > max_line + 1


_max_lines = st.sampled_from([1, 2, 3, 8, 33, MAX_LINE])


@st.composite
def _streams(draw: st.DrawFn, max_line: int) -> bytes:
    """Lines of lengths around ``max_line``, with LF or CR LF, plus random bytes."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        size = draw(st.integers(0, max_line + 3) | st.integers(max_line - 2, max_line + 3))
        fill = draw(st.sampled_from([b"x", b"\r", b"\xc3"]))
        parts.append(fill * max(size, 0) + draw(st.sampled_from([b"\n", b"\r\n", b""])))
    parts.append(draw(st.binary(max_size=20)))
    return b"".join(parts)


@st.composite
def _framer_cases(draw: st.DrawFn) -> tuple[int, bytes, list[int]]:
    max_line = draw(_max_lines)
    stream = draw(_streams(max_line) | st.binary(max_size=64))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    return max_line, stream, cuts


@FUZZ_HEAVY
@given(_framer_cases())
def test_framer_keeps_every_good_line_and_never_buffers_past_its_limit(
    case: tuple[int, bytes, list[int]],
) -> None:
    """However a client splits its writes, the framer must hand out exactly the lines of
    acceptable length, report over-long ones, and hold at most one line's worth of bytes:
    the buffer bound is what stops a client without a newline from exhausting memory."""
    max_line, stream, cuts = case
    framer = LineFramer(max_line)
    lines: list[bytes] = []
    reported = False
    for lo, hi in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        try:
            lines += framer.feed(stream[lo:hi])
        except FrameTooLong:
            reported = True
        assert len(framer._buffer) <= max_line + 1
    lines += framer.feed(b"")  # lines completed in a call that raised come out now
    expected, too_long = _expected_lines(stream, max_line)
    assert lines == expected
    assert reported == too_long
    assert all(b"\n" not in line for line in lines)


def test_framer_never_hands_out_a_line_longer_than_its_limit() -> None:
    """The documented contract: a line longer than max_line is discarded and reported."""
    framer = LineFramer(max_line=4)
    with pytest.raises(FrameTooLong):
        framer.feed(b"abcde\n")


@FUZZ_HEAVY
@given(st.lists(raw_lines | st.binary(max_size=5000), max_size=6))
def test_framer_then_parser_on_arbitrary_stream(chunks: list[bytes]) -> None:
    """The full input path of a connection: any stream yields only lines, FrameTooLong and
    ParseError, never another exception, and the framer's buffer stays bounded."""
    framer = LineFramer()
    for chunk in [*chunks, b""]:
        try:
            lines = framer.feed(chunk)
        except FrameTooLong:
            lines = framer.feed(b"")
        assert len(framer._buffer) <= MAX_LINE + 1
        for line in lines:
            assert len(line) <= MAX_LINE
            _parse_or_none(line)
