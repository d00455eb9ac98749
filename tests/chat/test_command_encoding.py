"""The bytes of a command in the log (decision 0021): the binary format, the JSON of every
earlier entry, and garbage."""

from __future__ import annotations

import contextlib
import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chat.test_properties import steps
from tests.chat.workload import LIMITS, Driver, Step
from twistedchat.chat.command import BINARY, CONNECT, Command, encode_json
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.node.fingerprint import settings_fingerprint
from twistedchat.wire.message import Message

TIME = 1_764_000_000_000
INT64 = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=12)
commands = st.builds(
    Command,
    session=texts,
    seq=INT64,
    time=st.just(0),
    node=texts,
    message=st.builds(
        Message,
        command=texts,
        params=st.lists(texts, max_size=5).map(tuple),
        source=st.none(),
        tags=st.dictionaries(texts, texts, max_size=3),
    ),
    ref=st.none() | texts,
)

REPLY = Message("PRIVMSG", ("#a", "re"), None, {"+draft/reply": "x1", "+typing": ""})
REGISTRATION = Message(CONNECT, ("ann", "~ann", "h", "Ann"), None, {"resume": "ff" * 32})
SAMPLES = [
    Command("n1/ab12cd34/7", 3, 0, "n1", Message("PRIVMSG", ("#a", "héllo ☕ there"))),
    Command("n1/ab12cd34/7", 4, 0, "n1", REPLY, "l1"),
    Command("n1/ab12cd34/7", 1, 0, "n1", REGISTRATION),
    Command("n1/ab12cd34/node", 9, 0, "n1", Message("@NODE-RESET")),
    Command("s", 2, 0, "n", Message("JOIN", ("#a,#b", "key")), ""),
]


def at(command: Command, time: int = TIME) -> Command:
    return dataclasses.replace(command, time=time)


# -- the binary format -------------------------------------------------------------------


@pytest.mark.parametrize("command", SAMPLES, ids=lambda c: c.message.command)
def test_a_command_round_trips_in_the_binary_format(command: Command) -> None:
    data = command.encode()
    assert data[0] == BINARY
    assert Command.decode(data, TIME) == at(command)
    assert len(data) < len(encode_json(command))


def test_the_binary_format_is_pinned() -> None:
    """Logs on disk hold these bytes: a change needs a new first byte, not new meanings."""
    command = Command("n/b/1", 5, 0, "n", Message("PRIVMSG", ("#a", "hi é"), None, {"+x": "y"}),
                      "l")  # fmt: skip
    assert command.encode() == (
        b"\x01" + struct.pack(">qHHB", 5, 2, 1, 1)
        + b"n/b/1\x00n\x00PRIVMSG\x00#a\x00hi \xc3\xa9\x00+x\x00y\x00l"
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(commands)
def test_both_formats_decode_to_the_same_command(command: Command) -> None:
    """Whichever format an entry is in, every node applies the same command."""
    binary, old = command.encode(), encode_json(command)
    assert Command.decode(binary, TIME) == Command.decode(old, TIME) == at(command)
    decoded = Command.decode(binary, TIME)
    assert type(decoded.message.tags) is dict  # as JSON gives them
    assert type(decoded.message.params) is tuple


def test_a_string_with_a_nul_is_written_in_json() -> None:
    """No IRC line carries a NUL, but a plugin's text might: the binary format, whose
    strings NUL separates, cannot carry it, JSON can."""
    for command in (
        Command("s", 1, 0, "n", Message("@PLUGIN-SAY", ("bots", "#a", "a\0b"))),
        Command("s", 1, 0, "n", Message("TAGMSG", ("#a",), None, {"+x": "\0"})),
        Command("s\0", 1, 0, "n", Message("JOIN", ("#a",))),
        Command("s", 1, 0, "n", Message("JOIN", ("#a",)), "\0"),
        Command("s", 2**63, 0, "n", Message("JOIN", ("#a",))),  # beyond a 64-bit seq
    ):
        data = command.encode()
        assert data[:1] == b"{"
        assert Command.decode(data, TIME) == at(command)


def test_a_workload_applies_the_same_from_either_format() -> None:
    """The chat state delivers exactly the same whether the log holds binary or JSON."""
    plan: list[Step] = [(0, i % 6, i % 19, i * 7 % 64, i * 11 % 64, i * 13 % 64)
                        for i in range(400)]  # fmt: skip
    a, b = ChatState(LIMITS), ChatState(LIMITS)
    for index, command in enumerate(Driver().commands(plan), 1):
        time = command.time
        from_binary = Command.decode(command.encode(), time)
        from_json = Command.decode(encode_json(command), time)
        assert a.apply(index, from_binary) == b.apply(index, from_json)
    assert a.snapshot() == b.snapshot()


@settings(max_examples=30, deadline=None)
@given(steps)
def test_generated_workloads_apply_the_same_from_either_format(plan: list[Step]) -> None:
    a, b = ChatState(LIMITS), ChatState(LIMITS)
    for index, command in enumerate(Driver().commands(plan), 1):
        from_binary = Command.decode(command.encode(), command.time)
        assert from_binary == command
        assert a.apply(index, from_binary) == b.apply(index, command)
    assert a.snapshot() == b.snapshot()


def test_nodes_of_an_earlier_format_are_refused_by_the_fingerprint() -> None:
    """A node that writes JSON only cannot read the binary format: it differs in its
    settings fingerprint, so it is refused a link instead of failing on the first entry."""
    assert settings_fingerprint(ChatLimits()).values()["command format"] == BINARY


# -- entries of earlier versions ---------------------------------------------------------


def test_entries_written_in_json_by_earlier_versions_still_decode() -> None:
    """Bytes as 0020 and earlier wrote them to the log (and as they stay on disk)."""
    privmsg = b'{"s":"n1/ab/3","q":12,"n":"n1","c":"PRIVMSG","p":["#a","h\xc3\xa9"]}'
    assert Command.decode(privmsg, TIME) == Command(
        "n1/ab/3", 12, TIME, "n1", Message("PRIVMSG", ("#a", "hé"))
    )
    tagged = (b'{"s":"n1/ab/3","q":13,"n":"n1","c":"TAGMSG","p":["#a"],'
              b'"g":{"+typing":"active"},"r":"lbl"}')  # fmt: skip
    assert Command.decode(tagged, TIME) == Command(
        "n1/ab/3", 13, TIME, "n1", Message("TAGMSG", ("#a",), None, {"+typing": "active"}), "lbl"
    )
    before_the_log_had_a_clock = b'{"s":"s","q":1,"t":1700000000000,"n":"n","c":"JOIN","p":["#a"]}'
    assert Command.decode(before_the_log_had_a_clock, 0).time == 1_700_000_000_000
    assert Command.decode(before_the_log_had_a_clock, TIME).time == TIME


# -- garbage -----------------------------------------------------------------------------


def binary(seq: int, params: int, tags: int, ref: int, text: bytes) -> bytes:
    return b"\x01" + struct.pack(">qHHB", seq, params, tags, ref) + text


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "starts with b''"),
        (b"[1, 2]", "starts with b'\\['"),
        (b"\x02anything", "starts with"),
        (b"\x01", "truncated command"),
        (b"\x01" + bytes(12), "truncated command"),
        (binary(1, 1, 0, 0, b"s\0n\0JOIN"), "3 strings for 1 params"),
        (binary(1, 0, 0, 0, b"s\0n\0JOIN\0#a"), "4 strings for 0 params"),
        (binary(1, 0, 1, 0, b"s\0n\0JOIN\0+x"), "4 strings for 0 params, 1 tags"),
        (binary(1, 0, 0, 2, b"s\0n\0JOIN\0r\0r"), "ref 2"),
        (binary(1, 0, 0, 0, b"s\0n\0\xff"), "can't decode"),
        (b"{", "Expecting property name"),
        (b"{}", "not a command: KeyError"),
        (b'{"s":"s","q":1,"n":"n","c":"JOIN","p":1}', "not a command: TypeError"),
        (b'{"a":' + b"[" * 100_000, "nested too deep"),
        (b"{\xff}", "can't decode|Expecting"),
    ],
)
def test_garbage_is_refused_with_a_value_error(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Command.decode(data, TIME)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80) | st.binary(max_size=80).map(lambda b: b"\x01" + b))
def test_random_bytes_decode_or_raise_value_error_only(data: bytes) -> None:
    """Apply stops the node on any error (decision 0019); garbage must be a ValueError,
    with a message, never something a bug would raise."""
    with contextlib.suppress(ValueError):
        Command.decode(data, TIME)


@settings(max_examples=300, deadline=None)
@given(commands, st.data())
def test_corrupted_commands_decode_or_raise_value_error_only(
    command: Command, data: st.DataObject
) -> None:
    for encoded in (command.encode(), encode_json(command)):
        body = bytearray(encoded)
        at_ = data.draw(st.integers(0, len(body) - 1))
        body[at_] ^= data.draw(st.integers(1, 255))
        cut = data.draw(st.integers(0, len(body)))
        for garbled in (bytes(body), encoded[:cut]):
            try:
                decoded = Command.decode(garbled, TIME)
            except ValueError:
                continue
            assert isinstance(decoded, Command)
