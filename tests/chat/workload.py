"""Generated command sequences for property tests: a small vocabulary, so names collide.

A step is a tuple of small ints; :class:`Driver` maps it to a Command. Hypothesis draws
steps (and shrinks them); :func:`random_steps` draws them from a seeded ``random.Random``
for the cross-process determinism check.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator

from twistedchat.chat.command import CONNECT, LOGIN, NODE_RESET, REGISTER, Command
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

SESSIONS = ["s0", "s1", "s2", "s3", "s4", "s5"]
NODES = ["n1", "n2"]
NICKS = ["u0", "U1", "u2", "u3", "[x]", "{X}", "u4", "u5", "alice", "9bad"]
CHANNELS = ["#a", "#A", "#b", "&c", "#d", "bad"]
TEXTS = ["hi", "", "a longer text", "x" * 40]
MODES = ["+o", "+v", "-o", "-v", "+b", "-b", "+k", "-k", "+l", "-l", "+i", "-i", "+m", "-m",
         "+s", "-t", "+t", "+n-n", "+ovb", "b", "+z", "+kl", "+e", "-e", "+I", "-I", "e",
         "+be"]  # fmt: skip
ARGS = ["u0", "U1", "u2", "[X]", "*!*@*", "u1!*@*", "key", "2", "0", "$a", "$m:u*", "$a:u1",
        "$x"]  # fmt: skip
QUERIES = ["NAMES #a", "NAMES #b,&c", "LIST", "WHO #a", "WHO *", "WHOIS u1", "WHOIS [x]",
           "WHOWAS u1", "WHOWAS [x]", "ISON u0 u1 [x]", "USERHOST u0 u2", "MODE #a",
           "MODE #a b", "MODE #a e", "MODE #a +I", "TOPIC #a", "LUSERS", "MODE u1",
           "CHATHISTORY LATEST alice * 5",
           "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
           "timestamp=2100-01-01T00:00:00.000Z 5", "MARKREAD #a", "MARKREAD u1"]  # fmt: skip
#: MARKREAD's: old, in the future (cut to the log's clock), and not timestamps at all.
STAMPS = [
    "timestamp=2000-01-01T00:00:00.000Z",
    "timestamp=2010-06-01T12:00:00.5Z",
    "timestamp=2100-01-01T00:00:00.000Z",
    "*",
    "timestamp=2020-02-30T00:00:00.000Z",
]


LIMITS = ChatLimits(
    whowas=5, session_records=4, maxlist=3, chanlimit=3, max_channels=4, targmax=2, modes=2,
    topiclen=10, awaylen=5, kicklen=5, read_markers=3, read_markers_total=5,
)  # fmt: skip

Step = tuple[int, int, int, int, int, int]  # mode, session, kind, a, b, c
NORMAL, DUPLICATE, GAP = 0, 1, 2


def _pick(options: list[str], i: int) -> str:
    return options[i % len(options)]


def _target(a: int, b: int) -> str:
    return _pick(CHANNELS, b) if a % 2 else _pick(NICKS, a)


_KINDS: list[Callable[[int, int, int], Message]] = [
    lambda a, b, c: Message(CONNECT, (_pick(NICKS, a), "~u" + str(c), "h" + str(b % 3), "Real")),
    lambda a, b, c: Message("NICK", (_pick(NICKS, a),)),
    lambda a, b, c: Message(
        "JOIN", (_pick(CHANNELS, a) + "," + _pick(CHANNELS, b), _pick(ARGS, c))
    ),
    lambda a, b, c: Message("JOIN", ("0",)),
    lambda a, b, c: Message("PART", (_pick(CHANNELS, a), _pick(TEXTS, c))),
    lambda a, b, c: Message("PRIVMSG", (_target(a, b) + "," + _target(b, c), _pick(TEXTS, c))),
    lambda a, b, c: Message("NOTICE", (_target(a, b), _pick(TEXTS, c))),
    lambda a, b, c: Message("TAGMSG", (_target(a, b),), None, {"+typing": "active", "label": "l"}),
    lambda a, b, c: Message("TOPIC", (_pick(CHANNELS, a), _pick(TEXTS, c))),
    lambda a, b, c: Message(
        "MODE", (_pick(CHANNELS, a), _pick(MODES, b), _pick(ARGS, c), _pick(ARGS, a))
    ),
    lambda a, b, c: Message("MODE", (_pick(NICKS, a), _pick(["+i", "-i", "+w", "-wB", "+B"], b))),
    lambda a, b, c: Message("WALLOPS", (_pick(TEXTS, c),)),
    lambda a, b, c: Message("KICK", (_pick(CHANNELS, a), _pick(NICKS, b), _pick(TEXTS, c))),
    lambda a, b, c: Message("INVITE", (_pick(NICKS, a), _pick(CHANNELS, b))),
    lambda a, b, c: Message("AWAY", (_pick(TEXTS, c),) if c % 2 else ()),
    lambda a, b, c: Message("QUIT", ("Quit: " + _pick(TEXTS, c),)),
    lambda a, b, c: Message(NODE_RESET, ("127.0.0.1:6667",)),
    lambda a, b, c: Message(REGISTER, (_pick(NICKS, a), "scrypt$00$11")),
    lambda a, b, c: Message(LOGIN, (_pick(NICKS, a),)),
    lambda a, b, c: Message(*_query(a)),
    # the Driver mostly makes it name a recent message (a msgid is <log index hex>-<n>)
    lambda a, b, c: Message(
        "REDACT", (_target(a, b), f"{c:x}-1", *((_pick(TEXTS, b),) if b % 2 else ()))
    ),
    lambda a, b, c: Message(
        "RENAME", (_pick(CHANNELS, a), _pick(CHANNELS, b), *((_pick(TEXTS, c),) if c % 2 else ()))
    ),
    lambda a, b, c: Message("MARKREAD", (_target(a, b), _pick(STAMPS, c))),
]


def _query(a: int) -> tuple[str, tuple[str, ...]]:
    command, *params = _pick(QUERIES, a).split()
    return command, tuple(params)


class Driver:
    """Turns steps into Commands the way hubs would, with duplicates and lost commands.

    Each of the six client slots is a connection: its first command is CONNECT, and after
    a QUIT or a reset of its node the slot reconnects as a new session. A lost command
    (GAP) shows up after the slot's next command, which the state refuses as out of
    order and which is then resent, as the hub does.
    """

    def __init__(self) -> None:
        self.seqs: dict[str, int] = {}
        self.history: list[Command] = []
        self.lost: dict[str, Command] = {}
        self.generations = [0] * len(SESSIONS)
        self.time = 1_764_000_000_000
        self.boots = 0
        self.yielded = 0  # commands yielded so far: the log index of the last one
        #: The last messages: (log index, first target, session).
        self.said: list[tuple[int, str, str]] = []

    def session(self, slot: int) -> str:
        return f"{SESSIONS[slot]}.{self.generations[slot]}"

    def sessions(self) -> list[str]:
        return [self.session(slot) for slot in range(len(SESSIONS))]

    def commands(self, steps: list[Step]) -> Iterator[Command]:
        for command in self._commands(steps):
            self.yielded += 1
            message = command.message
            if message.command in ("PRIVMSG", "NOTICE") and message.params:
                said = (self.yielded, message.params[0].split(",")[0], command.session)
                self.said = [*self.said[-15:], said]
            yield command

    def _commands(self, steps: list[Step]) -> Iterator[Command]:
        for mode, slot, kind, a, b, c in steps:
            self.time += 250
            if mode == DUPLICATE and self.history:
                yield self.history[a % len(self.history)]
                continue
            slot %= len(SESSIONS)
            node = NODES[slot % len(NODES)]
            session = self.session(slot)
            if session in self.seqs:
                message = _KINDS[kind % len(_KINDS)](a, b, c)
                if message.command == "REDACT" and self.said and a % 4:
                    # mostly one of the last few messages, where it was said: often one
                    # of this session's own, else anyone's
                    own = [said for said in self.said if said[2] == session]
                    pool = own if own and a % 2 else self.said
                    index, target, _ = pool[c % len(pool)]
                    msgid = f"{index:x}-1"
                    message = Message("REDACT", (target, msgid, *message.params[2:]))
            else:  # a new connection registers first, mostly with a nick of its own
                nick = _pick(NICKS, a) if a % 4 == 0 else f"u{slot}"
                account = (_pick(NICKS, c),) if c % 3 == 0 else ()  # logged in by SASL
                params = (nick, f"~u{slot}", "h" + str(b % 3), "Real", *account)
                message = Message(CONNECT, params)
            if message.command == NODE_RESET:
                self.boots += 1
                session = f"{node}/boot{self.boots}/node"
                for other in range(slot % len(NODES), len(SESSIONS), len(NODES)):
                    self.generations[other] += 1
            elif message.command == "QUIT":
                self.generations[slot] += 1
            seq = self.seqs.get(session, 0) + 1
            self.seqs[session] = seq
            command = Command(session, seq, self.time, node, message)
            self.history.append(command)
            if mode == GAP and session not in self.lost:
                self.lost[session] = command
                continue
            yield command
            if session in self.lost:
                yield self.lost.pop(session)
                yield command


def random_steps(rng: random.Random, count: int) -> list[Step]:
    modes = [NORMAL] * 8 + [DUPLICATE, GAP]
    kinds = len(_KINDS)
    return [
        (rng.choice(modes), rng.randrange(6), rng.randrange(kinds), *_three(rng))
        for _ in range(count)
    ]


def _three(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(64), rng.randrange(64), rng.randrange(64)


def digest(seed: int, count: int) -> str:
    """A hash of everything a random workload makes a fresh state deliver and answer."""
    state = ChatState(LIMITS)
    h = hashlib.sha256()
    driver = Driver()
    for index, command in enumerate(driver.commands(random_steps(random.Random(seed), count)), 1):
        h.update(repr(state.apply(index, command)).encode())
    for session in driver.sessions():
        for line in QUERIES:
            h.update(
                repr(state.query(session, Message(*_query(QUERIES.index(line))), "srv")).encode()
            )
    h.update(state.snapshot())
    return h.hexdigest()
