"""Fuzzing the Raft peer frame decoder: bytes from another node, or from whoever connects.

A peer port is reachable before the Hello names the cluster, so :func:`decode_body` and
:class:`FrameDecoder` see arbitrary bytes. They may only ever raise :class:`FrameError`
(the transport closes the connection on it); anything else escapes into Twisted, and a
decoded message that differs from what was sent would corrupt the replicated log.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import types
import typing
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import FUZZ, FUZZ_HEAVY
from twistedchat.raft.codec import (
    TYPES,
    WIRE_VERSION,
    FrameDecoder,
    FrameError,
    decode_body,
    encode,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
#: Integers that sit on field-width boundaries as well as anywhere in range.
_edgy_ints = INT64 | st.sampled_from([0, 1, -1, 255, 256, 2**31, 2**32, -(2**63), 2**63 - 1])


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of one annotated field type, derived from the hints as the codec derives its
    encoders, so a field added to a message is fuzzed without touching this file."""
    if hint is bool:
        return st.booleans()
    if isinstance(hint, type) and issubclass(hint, enum.IntEnum):
        return st.sampled_from(list(hint))
    if hint is int:
        return _edgy_ints
    if hint is str:
        return st.text(max_size=24)
    if hint is bytes:
        return st.binary(max_size=80)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return st.none() | strategy_for(inner)
    if origin is tuple:
        return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return message_of(hint)
    raise AssertionError(f"no fuzz strategy for {hint!r}")


def message_of(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


messages = st.one_of([message_of(cls) for cls in TYPES.values()])


def _decode_or_none(body: bytes) -> object | None:
    try:
        return decode_body(body)
    except FrameError:  # UnsupportedVersion is a FrameError
        return None


def _check_canonical(body: bytes, message: object) -> None:
    """An accepted body must be the one and only encoding of what it decoded to."""
    assert type(message) in TYPES.values()
    assert encode(message) == struct.pack(">I", len(body)) + body


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    cuts = sorted(cuts)
    return [data[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# -- mutation of valid frames ------------------------------------------------------------------


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 2**20), st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF])),
    st.tuples(st.just("insert"), st.integers(0, 2**20), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 2**20), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20)),
)


def _mutate(data: bytes, mutations: list[tuple[Any, ...]]) -> bytes:
    """Apply edits at positions taken modulo the current length."""
    buf = bytearray(data)
    for kind, where, *arg in mutations:
        pos = where % (len(buf) + 1)
        if kind == "flip" and pos < len(buf):
            buf[pos] ^= 1 << arg[0]
        elif kind == "set" and pos < len(buf):
            buf[pos] = arg[0]
        elif kind == "insert":
            buf[pos:pos] = arg[0]
        elif kind == "delete":
            del buf[pos : pos + arg[0]]
        elif kind == "truncate":
            del buf[pos:]
    return bytes(buf)


# -- properties --------------------------------------------------------------------------------


@FUZZ
@given(messages, st.lists(st.integers(0, 2**16), max_size=6))
def test_encode_then_decode_round_trips(message: object, cuts: list[int]) -> None:
    """Whatever the leader encodes, followers must decode to an equal message however TCP
    splits the bytes: a difference would silently change the replicated log."""
    frame = encode(message)
    assert decode_body(frame[4:]) == message
    decoder = FrameDecoder()
    out: list[object] = []
    for chunk in _split(frame, [c % (len(frame) + 1) for c in cuts]):
        out += decoder.feed(chunk)
    assert out == [message] and type(out[0]) is type(message)
    assert decoder.buffered == 0


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_body_raises_only_frame_error(body: bytes) -> None:
    """Random bytes from whoever connects must be refused with FrameError, the one error
    the transport handles by closing the connection."""
    message = _decode_or_none(body)
    if message is not None:
        _check_canonical(body, message)


@FUZZ
@given(st.sampled_from(sorted(TYPES)) | st.integers(0, 255), st.binary(max_size=300))
def test_arbitrary_fields_after_a_valid_header_raise_only_frame_error(
    tag: int, fields: bytes
) -> None:
    """Past the version and tag, random field bytes reach every field decoder (lengths,
    counts, enums, bools, UTF-8): each bad value must end as FrameError, and whatever is
    accepted must re-encode to exactly the same bytes (no two encodings of one message)."""
    body = bytes([WIRE_VERSION, tag]) + fields
    message = _decode_or_none(body)
    if message is not None:
        _check_canonical(body, message)


@FUZZ
@given(messages, st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_frames_raise_only_frame_error(
    message: object, mutations: list[tuple[Any, ...]]
) -> None:
    """A corrupted or hostile frame close to a valid one reaches the deepest decoding
    paths (a count or length a little off, a flipped enum): it must still be refused with
    FrameError or decode to a message that re-encodes to the very same bytes."""
    frame = _mutate(encode(message), mutations)
    body = frame[4:]
    decoded = _decode_or_none(body)
    if decoded is not None:
        _check_canonical(body, decoded)
    decoder = FrameDecoder()
    try:
        out = decoder.feed(frame)
    except FrameError:
        return
    consumed = len(frame) - decoder.buffered
    assert b"".join(encode(m) for m in out) == frame[:consumed]


@FUZZ_HEAVY
@given(
    st.lists(
        messages.map(encode) | st.binary(max_size=40) | st.just(b"\x00\x00\x00"),
        max_size=6,
    ),
    st.lists(st.integers(0, 2**16), max_size=10),
    st.sampled_from([0, 1, 2, 16, 200, 2**16]),
)
def test_frame_decoder_on_arbitrary_stream(
    pieces: list[bytes], cuts: list[int], max_frame: int
) -> None:
    """A peer stream of valid frames mixed with junk, split anywhere: the decoder raises
    only FrameError, and keeps raising it (the stream has lost its framing); until then it
    buffers less than one maximal frame and hands out exactly the frames it consumed."""
    stream = b"".join(pieces)
    decoder = FrameDecoder(max_frame=max_frame)
    out: list[object] = []
    consumed = 0
    for chunk in _split(stream, [c % (len(stream) + 1) for c in cuts]):
        try:
            got = decoder.feed(chunk)
        except FrameError as error:
            assert decoder.buffered == 0
            try:
                decoder.feed(b"\x00\x00\x00\x02\x01\x07")
            except FrameError as again:
                assert again is error
            else:
                raise AssertionError("a failed FrameDecoder accepted more bytes") from None
            return
        consumed += len(chunk)
        out += got
        assert decoder.buffered < 4 + max_frame
    assert b"".join(encode(m) for m in out) == stream[: consumed - decoder.buffered]
