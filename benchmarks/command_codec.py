"""Chat command encodings: encode and decode time and size of realistic commands.

Every write is one :class:`~twistedchat.chat.command.Command` in the Raft log: the node that
proposes it encodes it once, and every node decodes it when it applies the entry. This
compares, on the same commands and in one process:

- ``json (0020)``: the JSON object every entry was before decision 0021, and still the
  format of old logs (:func:`~twistedchat.chat.command.encode_json`);
- ``json tuned``: a JSON array instead of an object, with a prebuilt encoder and decoder
  (no circular check, no per-call option handling);
- ``msgpack``: a tuple packed by msgpack (C extension), when it is installed; its decode
  checks nothing of what it gets (the best case for it), ``msgpack, checked`` checks that
  every value has the type a Command needs, as a decoder of log entries should;
- ``struct+lengths``: a hand-written header and one u32 length per string;
- ``struct+NUL``: the format of decision 0021 (:meth:`Command.encode`/``decode``): a struct
  header, then the strings as one UTF-8 text separated by NUL, split in one call.

``floor`` is the time to build the decoded values alone (a Command and its Message), which
every decoder pays. Figures are the best of several rounds, in nanoseconds per command.

Run with ``python -m benchmarks.command_codec`` (about 5 s; ``--quick`` for 1 s).
"""

from __future__ import annotations

import argparse
import json
import struct
import timeit
from collections.abc import Callable
from itertools import chain
from typing import Any

from twistedchat.chat.command import CONNECT, Command, encode_json
from twistedchat.wire.message import Message

SESSION = "127.0.0.1:7667/3f9a1c2b/1742"  # NODE/BOOT/N, as the hub makes them
NODE = "127.0.0.1:7667"
TEXT = (
    "I think the new release fixes the reconnect bug, café ☕ — can someone confirm it on "
    "Debian bookworm before I close the ticket? It did for me on two laptops and a server, "
    "both behind the same NAT, with irssi and weechat."
)
REPLY_TAGS = {"+draft/reply": "01JD5ZK3QH4N7", "+draft/react": "\N{THUMBS UP SIGN}"}


def privmsg(length: int, tags: dict[str, str] | None = None, ref: str | None = None) -> Command:
    message = Message("PRIVMSG", ("#twistedchat", TEXT[:length]), None, tags or {})
    return Command(SESSION, 1234, 0, NODE, message, ref)


CONNECT_PARAMS = ("alice", "~alice", "203.0.113.7", "Alice Liddell", "alice")
COMMANDS = {
    "PRIVMSG 60": privmsg(60),
    "PRIVMSG 200": privmsg(200),
    "PRIVMSG 120 tags+ref": privmsg(120, REPLY_TAGS, "lbl-42"),
    "JOIN": Command(SESSION, 7, 0, NODE, Message("JOIN", ("#twistedchat",))),
    "@CONNECT": Command(
        SESSION, 1, 0, NODE, Message(CONNECT, CONNECT_PARAMS, None, {"resume": "9f3c" * 16})
    ),
}
assert len(TEXT) >= 200

Encode = Callable[[Command], bytes]
Decode = Callable[[bytes], Command]
TIME = 1_764_000_000_000


# -- the candidates ----------------------------------------------------------------------


def json_decode(data: bytes) -> Command:
    return Command.decode(data, TIME)  # an object: the JSON path of Command.decode


_JSON_ENCODE = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
_JSON_DECODE = json.JSONDecoder().decode


def tuned_encode(c: Command) -> bytes:
    m = c.message
    doc = [c.session, c.seq, c.node, m.command, m.params, dict(m.tags) or None, c.ref]
    return _JSON_ENCODE(doc).encode()


def tuned_decode(data: bytes) -> Command:
    session, seq, node, command, params, tags, ref = _JSON_DECODE(data.decode())
    return Command(session, seq, TIME, node, Message(command, tuple(params), None, tags or {}), ref)


def msgpack_codec() -> tuple[Encode, Decode] | None:
    try:
        import msgpack  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    packb, unpackb = msgpack.packb, msgpack.unpackb

    def encode(c: Command) -> bytes:
        m = c.message
        packed: bytes = packb(
            (c.session, c.seq, c.node, m.command, m.params, dict(m.tags) or None, c.ref)
        )
        return packed

    def decode(data: bytes) -> Command:
        session, seq, node, command, params, tags, ref = unpackb(data, use_list=False)
        return Command(session, seq, TIME, node, Message(command, params, None, tags or {}), ref)

    return encode, decode


def msgpack_checked() -> tuple[Encode, Decode] | None:
    """msgpack with the checks a decoder of log entries needs (its types are the data's)."""
    codec = msgpack_codec()
    if codec is None:
        return None
    encode, unchecked = codec

    def decode(data: bytes) -> Command:
        c = unchecked(data)
        m = c.message
        if not (
            type(c.session) is str
            and type(c.seq) is int
            and type(c.node) is str
            and type(m.command) is str
            and type(m.params) is tuple
            and all(type(p) is str for p in m.params)
            and type(m.tags) is dict
            and all(type(k) is str and type(v) is str for k, v in m.tags.items())
            and (c.ref is None or type(c.ref) is str)
        ):
            raise ValueError("not a command")
        return c

    return encode, decode


_LP_HEAD = struct.Struct(">BqHHB")


def lengths_encode(c: Command) -> bytes:
    m = c.message
    strings = [c.session, c.node, m.command, *m.params, *chain.from_iterable(m.tags.items())]
    if c.ref is not None:
        strings.append(c.ref)
    raw = [s.encode() for s in strings]
    head = _LP_HEAD.pack(2, c.seq, len(m.params), len(m.tags), c.ref is not None)
    return b"".join((head, struct.pack(f">{len(raw)}I", *map(len, raw)), *raw))


def lengths_decode(data: bytes) -> Command:
    _, seq, param_count, tag_count, has_ref = _LP_HEAD.unpack_from(data)
    count = 3 + param_count + 2 * tag_count + has_ref
    pos = _LP_HEAD.size + 4 * count
    strings = []
    for size in struct.unpack_from(f">{count}I", data, _LP_HEAD.size):
        strings.append(data[pos : pos + size].decode())
        pos += size
    if pos != len(data):
        raise ValueError("trailing bytes")
    tags_at = 3 + param_count
    pairs = iter(strings[tags_at : tags_at + 2 * tag_count])
    return Command(
        strings[0],
        seq,
        TIME,
        strings[1],
        Message(strings[2], tuple(strings[3:tags_at]), None, dict(zip(pairs, pairs, strict=True))),
        strings[-1] if has_ref else None,
    )


def floor(c: Command) -> Callable[[], Command]:
    """What every decoder must do at least: build the Command and its Message."""
    m = c.message
    tags = dict(m.tags)

    def build() -> Command:
        return Command(c.session, c.seq, TIME, c.node, Message(m.command, m.params, None, tags),
                       c.ref)  # fmt: skip

    return build


def candidates() -> dict[str, tuple[Encode, Decode] | None]:
    return {
        "json (0020)": (encode_json, json_decode),
        "json tuned": (tuned_encode, tuned_decode),
        "msgpack": msgpack_codec(),
        "msgpack, checked": msgpack_checked(),
        "struct+lengths": (lengths_encode, lengths_decode),
        "struct+NUL (0021)": (Command.encode, lambda data: Command.decode(data, TIME)),
    }


# -- measuring ---------------------------------------------------------------------------


def interleaved_best_ns(
    calls: dict[str, Callable[[], Any]], number: int, rounds: int
) -> dict[str, float]:
    """The best time of each call, in rounds that run every call in turn: on a busy
    machine, every candidate gets the same chances at a quiet moment."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], timeit.timeit(call, number=number) / number * 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 1 s)")
    args = parser.parse_args()
    number, rounds = (500, 8) if args.quick else (1000, 30)
    codecs = {name: codec for name, codec in candidates().items() if codec is not None}
    missing = [name for name, codec in candidates().items() if codec is None]
    totals: dict[str, list[float]] = {name: [] for name in codecs}
    print(f"{'command':22} {'encoding':18} {'bytes':>5} {'encode':>7} {'decode':>7} "
          f"{'total ns':>8} {'vs json':>7}")  # fmt: skip
    for label, command in COMMANDS.items():
        expected = json_decode(encode_json(command))
        calls: dict[str, Callable[[], Any]] = {"floor": floor(command)}
        sizes = {}
        for name, (encode, decode) in codecs.items():
            data = encode(command)
            assert decode(data) == expected, (name, decode(data), expected)
            sizes[name] = len(data)
            calls[f"{name} encode"] = lambda e=encode, c=command: e(c)  # type: ignore[misc]
            calls[f"{name} decode"] = lambda d=decode, b=data: d(b)  # type: ignore[misc]
        best = interleaved_best_ns(calls, number, rounds)
        base = best["json (0020) encode"] + best["json (0020) decode"]
        for name in codecs:
            enc, dec = best[f"{name} encode"], best[f"{name} decode"]
            totals[name].append(enc + dec)
            print(f"{label:22} {name:18} {sizes[name]:5d} {enc:7.0f} {dec:7.0f} "
                  f"{enc + dec:8.0f} {base / (enc + dec):6.2f}x")  # fmt: skip
        print(f"{label:22} {'floor (build only)':18} {'':5} {'':7} {best['floor']:7.0f}")
    print()
    print("mean of encode+decode over the commands:")
    json_mean = sum(totals["json (0020)"]) / len(COMMANDS)
    for name, values in totals.items():
        mean = sum(values) / len(values)
        print(f"  {name:18} {mean:6.0f} ns  {json_mean / mean:5.2f}x")
    for name in missing:
        print(f"  {name:18} not installed (pip install msgpack)")


if __name__ == "__main__":
    main()
