"""The peer wire format: length-prefixed binary frames, one Raft message each (sans-IO).

A frame is::

    u32 length (big-endian, of everything after it) | u8 WIRE_VERSION | u8 tag | fields

``tag`` picks the dataclass from :data:`TYPES` (:data:`~twistedchat.raft.messages.MESSAGE_TYPES`
plus this module's :class:`Hello`). Fields follow in declaration order, encoded by type:

- ``int``: signed 64-bit big-endian; ``bool``: one byte, 0 or 1; an ``IntEnum``: one byte
  (eight if a member does not fit), and decoding rejects values that are not members;
- ``str`` (UTF-8) and ``bytes``: u32 length, then the bytes;
- ``X | None``: one presence byte (0 or 1), then ``X`` if present;
- ``tuple[X, ...]``: u32 count, then each element;
- a nested dataclass (such as :class:`~twistedchat.raft.messages.Entry`): its fields.

The encoder and decoder of every type are built once, at import, from the dataclass's type
hints, so adding a field to a message needs no change here. It does change the bytes on the
wire, though: bump :data:`WIRE_VERSION` then (the schema test in ``tests/raft/test_codec.py``
fails as a reminder). Consecutive fixed-size fields are packed with one precompiled
:class:`struct.Struct`, which keeps an AppendEntries of 100 entries well under a millisecond.

:class:`~twistedchat.raft.messages.Entry`, the one type a frame carries hundreds of, has a
hand-fused codec of the very same bytes (:func:`_entry_codec`, checked against the generic
one by the tests), twice as fast both ways. A leader sends the same new entries to each of
its followers, in one AppendEntries per follower: the encoding of the entries is kept, by
the identity of the entries (:class:`_EntriesCache`), so they are encoded once for all.
Decoding slices ``bytes``: a ``memoryview`` would save copying each frame's body once, but
a field sliced from it costs twice a ``bytes`` slice, more than that copy (measured: an
AppendEntries of 64 entries decodes 20% slower that way).
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import types
import typing
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, is_
from typing import Any

from twistedchat.raft.messages import MESSAGE_TYPES, Entry, EntryKind

#: Bumped whenever the encoding of any registered type changes (2: ``Hello.app``,
#: 3: ``Entry.time`` and the senders' clocks in vote and append answers, 4: the commit
#: index in append answers).
WIRE_VERSION = 4
#: The largest frame accepted or produced (length prefix value): bounds a peer's buffer.
MAX_FRAME = 64 * 1024 * 1024
#: The largest Hello (whose ``app`` is bounded by the application, at most 64 KiB): the
#: limit of a link's first frame, before anyone knows who sends it.
MAX_HELLO_FRAME = 128 * 1024


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame on every peer connection: the receiver refuses another cluster or version.

    ``app`` is opaque to Raft: whatever the application running on top says about how it
    applies the log (twistedchat puts its settings there, see
    :mod:`twistedchat.node.fingerprint`). Peers whose ``app`` differs from the receiver's
    are refused too, since they would turn one log into different states.
    """

    cluster: str
    node_id: str
    version: int
    app: str = ""


#: Every type that may travel in a frame, by tag. Tags are never reused.
TYPES: dict[int, type] = {**MESSAGE_TYPES, 30: Hello}


class FrameError(Exception):
    """The bytes from a peer are not a valid frame; the connection cannot be trusted further."""


class UnsupportedVersion(FrameError):
    """A well-formed frame of another wire version: a peer running other software."""

    def __init__(self, version: int):
        super().__init__(f"unsupported wire version {version} (we speak {WIRE_VERSION})")
        self.version = version


# -- field codecs ------------------------------------------------------------------------

#: Appends one value's encoding to the output buffer.
Encoder = Callable[[Any, bytearray], None]
#: Decodes one value from ``buf`` at ``pos``: returns it and the position after it.
Decoder = Callable[[bytes, int], tuple[Any, int]]

_U8 = struct.Struct(">B")
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class _Fixed:
    """A fixed-size scalar: a struct code, and a check/conversion applied after unpacking."""

    code: str
    convert: Callable[[int], Any] | None = None


@dataclass(frozen=True)
class _Variable:
    """A variable-size value with its own encoder and decoder, and its smallest encoding."""

    encode: Encoder
    decode: Decoder
    min_size: int


_Field = _Fixed | _Variable


def _to_bool(value: int) -> bool:
    if value > 1:
        raise ValueError(f"bool byte {value}")
    return value == 1


def _enum_field(enum_type: type[enum.IntEnum]) -> _Fixed:
    members = {int(m): m for m in enum_type}
    code = "B" if all(0 <= v <= 0xFF for v in members) else "q"

    def convert(value: int) -> enum.IntEnum:
        try:
            return members[value]
        except KeyError:
            raise ValueError(f"{value} is not a {enum_type.__name__}") from None

    return _Fixed(code, convert)


def _encode_bytes(value: bytes, out: bytearray) -> None:
    out += _U32.pack(len(value))
    out += value


def _decode_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    (size,) = _U32.unpack_from(buf, pos)
    start = pos + 4
    end = start + size
    if end > len(buf):
        raise struct.error("bytes field runs past the end of the frame")
    return buf[start:end], end


def _encode_str(value: str, out: bytearray) -> None:
    data = value.encode()
    out += _U32.pack(len(data))
    out += data


def _decode_str(buf: bytes, pos: int) -> tuple[str, int]:
    data, end = _decode_bytes(buf, pos)
    return data.decode(), end


_BYTES = _Variable(_encode_bytes, _decode_bytes, 4)
_STR = _Variable(_encode_str, _decode_str, 4)


def _as_variable(field: _Field) -> _Variable:
    """Wrap a fixed-size scalar so it can be an optional value or a tuple element."""
    if isinstance(field, _Variable):
        return field
    packer = struct.Struct(">" + field.code)
    convert = field.convert

    def encode(value: Any, out: bytearray) -> None:
        out += packer.pack(value)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        (value,) = packer.unpack_from(buf, pos)
        return (convert(value) if convert else value), pos + packer.size

    return _Variable(encode, decode, packer.size)


def _optional(inner: _Variable) -> _Variable:
    encode_inner, decode_inner = inner.encode, inner.decode

    def encode(value: Any, out: bytearray) -> None:
        if value is None:
            out.append(0)
        else:
            out.append(1)
            encode_inner(value, out)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        (present,) = _U8.unpack_from(buf, pos)
        if present == 0:
            return None, pos + 1
        if present != 1:
            raise ValueError(f"presence byte {present}")
        return decode_inner(buf, pos + 1)

    return _Variable(encode, decode, 1)


def _sequence(element: _Variable) -> _Variable:
    encode_element, decode_element, min_size = element.encode, element.decode, element.min_size

    def encode(values: tuple[Any, ...], out: bytearray) -> None:
        out += _U32.pack(len(values))
        for value in values:
            encode_element(value, out)

    def decode(buf: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
        (count,) = _U32.unpack_from(buf, pos)
        pos += 4
        if count * min_size > len(buf) - pos:  # refuse absurd counts before looping
            raise struct.error(f"{count} elements cannot fit in the rest of the frame")
        items: list[Any] = []
        append = items.append
        for _ in range(count):
            item, pos = decode_element(buf, pos)
            append(item)
        return tuple(items), pos

    return _Variable(encode, decode, 4)


def _field_codec(hint: Any, owner: type) -> _Field:
    """The codec for one annotated type; an unsupported type is an error at import time."""
    if hint is bool:
        return _Fixed("B", _to_bool)
    if isinstance(hint, type) and issubclass(hint, enum.IntEnum):
        return _enum_field(hint)
    if hint is int:
        return _Fixed("q")
    if hint is float:
        return _Fixed("d")
    if hint is str:
        return _STR
    if hint is bytes:
        return _BYTES
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return _optional(_as_variable(_field_codec(inner, owner)))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if args[0] is Entry:
            return _CACHED_ENTRIES
        return _sequence(_as_variable(_field_codec(args[0], owner)))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _compile(hint)
    raise TypeError(f"codec cannot encode {hint!r} (a field of {owner.__name__})")


def _fixed_run(names: list[str], fields: list[_Fixed]) -> tuple[Encoder, Decoder]:
    """One struct for consecutive fixed-size fields: a single pack/unpack call for all."""
    packer = struct.Struct(">" + "".join(f.code for f in fields))
    getter = attrgetter(*names)
    size = packer.size
    converts = [(i, f.convert) for i, f in enumerate(fields) if f.convert is not None]

    if len(names) == 1:

        def encode(obj: Any, out: bytearray) -> None:
            out += packer.pack(getter(obj))

    else:

        def encode(obj: Any, out: bytearray) -> None:
            out += packer.pack(*getter(obj))

    if not converts:

        def decode(buf: bytes, pos: int) -> tuple[Any, int]:
            return packer.unpack_from(buf, pos), pos + size

    else:

        def decode(buf: bytes, pos: int) -> tuple[Any, int]:
            values = list(packer.unpack_from(buf, pos))
            for i, convert in converts:
                values[i] = convert(values[i])
            return values, pos + size

    return encode, decode


def _variable_step(name: str, field: _Variable) -> tuple[Encoder, Decoder]:
    getter = attrgetter(name)
    encode_value, decode_value = field.encode, field.decode

    def encode(obj: Any, out: bytearray) -> None:
        encode_value(getter(obj), out)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        value, pos = decode_value(buf, pos)
        return (value,), pos

    return encode, decode


_compiled: dict[type, _Variable] = {}


def _compile(cls: type) -> _Variable:
    """The encoder and decoder of a dataclass's fields (an Entry's: see :func:`_entry_codec`)."""
    if cls in _compiled:
        return _compiled[cls]
    if cls is Entry:
        compiled = _compiled[cls] = _entry_codec(_compile_fields(cls))
        return compiled
    compiled = _compiled[cls] = _compile_fields(cls)
    return compiled


def _compile_fields(cls: type) -> _Variable:
    """Build the encoder and decoder of a dataclass's fields from its type hints."""
    hints = typing.get_type_hints(cls)
    steps: list[tuple[Encoder, Decoder]] = []
    run_names: list[str] = []
    run_fields: list[_Fixed] = []
    min_size = 0
    for f in dataclasses.fields(cls):
        codec = _field_codec(hints[f.name], cls)
        if isinstance(codec, _Fixed):
            run_names.append(f.name)
            run_fields.append(codec)
            min_size += struct.calcsize(">" + codec.code)
            continue
        min_size += codec.min_size
        if run_names:
            steps.append(_fixed_run(run_names, run_fields))
            run_names, run_fields = [], []
        steps.append(_variable_step(f.name, codec))
    if run_names:
        steps.append(_fixed_run(run_names, run_fields))
    encoders = tuple(e for e, _ in steps)
    decoders = tuple(d for _, d in steps)

    def encode(obj: Any, out: bytearray) -> None:
        for step in encoders:
            step(obj, out)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        values: list[Any] = []
        for step in decoders:
            part, pos = step(buf, pos)
            values.extend(part)
        return cls(*values), pos

    return _Variable(encode, decode, min_size)


#: The fields :func:`_entry_codec` is written for, in order, with their types.
_ENTRY_FIELDS = (("term", int), ("index", int), ("kind", EntryKind), ("data", bytes),
                 ("time", int))  # fmt: skip


def _entry_codec(generic: _Variable) -> _Variable:
    """An Entry's fields in the very bytes the generic codec gives them, in half its time:
    one struct for term, index, kind and the data's length, the data, one for time.

    Entries are most of what travels (up to ``max_entries_per_append`` in a frame), and the
    generic codec's steps cost more than the bytes do. Should :class:`Entry` change, this
    gives way to ``generic`` (``tests/raft/test_codec.py`` then fails, as a reminder).
    """
    hints = typing.get_type_hints(Entry)
    fields = tuple((f.name, hints[f.name]) for f in dataclasses.fields(Entry))
    if fields != _ENTRY_FIELDS or not all(0 <= int(kind) <= 0xFF for kind in EntryKind):
        return generic
    head = struct.Struct(">qqBI")
    tail = struct.Struct(">q")
    pack_head, unpack_head, head_size = head.pack, head.unpack_from, head.size
    pack_tail, unpack_tail = tail.pack, tail.unpack_from
    kinds = {int(kind): kind for kind in EntryKind}

    def encode(entry: Any, out: bytearray) -> None:
        data = entry.data
        out += pack_head(entry.term, entry.index, entry.kind, len(data))
        out += data
        out += pack_tail(entry.time)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        term, index, kind, size = unpack_head(buf, pos)
        try:
            kind = kinds[kind]
        except KeyError:
            raise ValueError(f"{kind} is not a EntryKind") from None
        start = pos + head_size
        end = start + size
        if end > len(buf):
            raise struct.error("bytes field runs past the end of the frame")
        (time,) = unpack_tail(buf, end)
        return Entry(term, index, kind, buf[start:end], time), end + 8

    return _Variable(encode, decode, generic.min_size)


class _EntriesCache:
    """The encodings of the last few tuples of entries, so that the AppendEntries a leader
    builds for each of its followers, with the same entries, encode them once for all.

    A tuple is recognised by the identity of its entries, not by their equality (the core
    builds a new tuple per follower, of the same :class:`Entry` objects from its log);
    entries are immutable, so the same objects always have the same encoding. The cache
    holds the tuples it keeps, so no other object can take one of their ids meanwhile.
    Bounded in tuples and in bytes; the oldest go first.
    """

    def __init__(self, encode: Encoder, max_items: int = 16, max_bytes: int = 8 << 20):
        self._encode = encode
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.size = 0  # bytes of the encodings kept
        self.hits = 0
        self._items: OrderedDict[tuple[int, int, int], tuple[tuple[Any, ...], bytes]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def encode(self, entries: tuple[Any, ...], out: bytearray) -> None:
        if not entries:
            self._encode(entries, out)
            return
        items = self._items
        key = (len(entries), id(entries[0]), id(entries[-1]))
        hit = items.get(key)
        if hit is not None and all(map(is_, hit[0], entries)):
            self.hits += 1
            out += hit[1]
            return
        start = len(out)
        self._encode(entries, out)
        data = bytes(out[start:])
        if len(data) > self.max_bytes >> 2:  # a huge one would push out all others
            return
        if hit is not None:
            self.size -= len(hit[1])
        items[key] = (tuple(entries), data)
        self.size += len(data)
        while len(items) > self.max_items or self.size > self.max_bytes:
            self.size -= len(items.popitem(last=False)[1][1])


_ENTRY_SEQUENCE = _sequence(_compile(Entry))
#: The one cache of encoded entries: every ``tuple[Entry, ...]`` field uses it.
ENTRIES_CACHE = _EntriesCache(_ENTRY_SEQUENCE.encode)
_CACHED_ENTRIES = _Variable(ENTRIES_CACHE.encode, _ENTRY_SEQUENCE.decode, _ENTRY_SEQUENCE.min_size)


_ENCODERS: dict[type, tuple[bytes, Encoder]] = {}
_DECODERS: dict[int, tuple[type, Decoder]] = {}
for _tag, _cls in TYPES.items():
    _codec = _compile(_cls)
    _ENCODERS[_cls] = bytes([WIRE_VERSION, _tag]), _codec.encode
    _DECODERS[_tag] = _cls, _codec.decode
del _tag, _cls, _codec


def describe_schema() -> str:
    """One line per tag with its fields and types: what the wire format depends on."""
    lines = []
    for tag, cls in sorted(TYPES.items()):
        hints = typing.get_type_hints(cls)
        fields = ", ".join(
            f"{f.name}: {_type_name(hints[f.name])}" for f in dataclasses.fields(cls)
        )
        lines.append(f"{tag} {cls.__name__}({fields})")
    return "\n".join(lines)


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        if issubclass(hint, enum.IntEnum):
            values = ",".join(f"{m.name}={int(m)}" for m in hint)
            return f"{hint.__name__}[{values}]"
        return hint.__name__
    return str(hint).replace("typing.", "").replace("twistedchat.raft.messages.", "")


# -- frames ------------------------------------------------------------------------------


def encode(message: object) -> bytes:
    """The whole frame for ``message``, length prefix included.

    Raises TypeError for a type without a tag and ValueError for a value its field type
    cannot carry (an int beyond 64 bits, a frame beyond :data:`MAX_FRAME`).
    """
    try:
        header, encode_fields = _ENCODERS[type(message)]
    except KeyError:
        raise TypeError(f"{type(message).__name__} has no wire tag") from None
    out = bytearray(6)
    out[4:6] = header
    try:
        encode_fields(message, out)
    except (struct.error, TypeError, AttributeError, UnicodeError) as exc:
        raise ValueError(f"cannot encode {type(message).__name__}: {exc}") from None
    size = len(out) - 4
    if size > MAX_FRAME:
        raise ValueError(f"{type(message).__name__} frame of {size} bytes exceeds {MAX_FRAME}")
    out[0:4] = _U32.pack(size)
    return bytes(out)


def decode_body(body: bytes) -> object:
    """Decode one frame without its length prefix (version, tag and fields)."""
    if len(body) < 2:
        raise FrameError(f"frame of {len(body)} bytes has no version and tag")
    version, tag = body[0], body[1]
    if version != WIRE_VERSION:
        raise UnsupportedVersion(version)
    try:
        cls, decode_fields = _DECODERS[tag]
    except KeyError:
        raise FrameError(f"unknown message tag {tag}") from None
    try:
        message, end = decode_fields(body, 2)
    except struct.error:
        raise FrameError(f"truncated {cls.__name__} frame ({len(body)} bytes)") from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise FrameError(f"bad {cls.__name__} frame: {exc}") from None
    if end != len(body):
        raise FrameError(f"{len(body) - end} trailing bytes after a {cls.__name__} frame")
    return message


class FrameDecoder:
    """Turns a byte stream, split anywhere, into messages.

    Chunks are kept in a list until a whole frame has arrived, so a large frame arriving in
    many small reads costs one join rather than a copy per read. After a :class:`FrameError`
    the stream has lost its framing for good: every later :meth:`feed` raises it again, and
    messages decoded earlier in the failing call are discarded with the connection.
    """

    def __init__(self, max_frame: int = MAX_FRAME, *, max_first_frame: int | None = None):
        """Frames may be ``max_frame`` bytes long; the first one only ``max_first_frame``
        (if given): a link's Hello, which must not let a stranger make us buffer more."""
        self.max_frame = max_frame
        self._limit = max_frame if max_first_frame is None else max_first_frame
        self._chunks: list[bytes] = []
        self._size = 0
        self._need = 4  # bytes needed before another frame can be complete
        self._error: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet decoded (part of a frame)."""
        return self._size

    def feed(self, data: bytes) -> list[object]:
        if self._error is not None:
            raise self._error
        if data:
            self._chunks.append(bytes(data))
            self._size += len(data)
        if self._size < self._need:
            return []
        buf = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        try:
            messages, pos = self._frames(buf)
        except FrameError as exc:
            self._error = exc
            self._chunks, self._size = [], 0
            raise
        rest = buf[pos:]
        self._chunks = [rest] if rest else []
        self._size = len(rest)
        return messages

    def _frames(self, buf: bytes) -> tuple[list[object], int]:
        messages: list[object] = []
        pos, available = 0, len(buf)
        while True:
            if available - pos < 4:
                self._need = 4
                return messages, pos
            (length,) = _U32.unpack_from(buf, pos)
            if length > self._limit:
                raise FrameError(f"frame of {length} bytes exceeds the limit of {self._limit}")
            end = pos + 4 + length
            if end > available:
                self._need = end - pos
                return messages, pos
            messages.append(decode_body(buf[pos + 4 : end]))
            self._limit = self.max_frame
            pos = end
