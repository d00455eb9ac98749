"""The chaos checker: what every client saw, against what was sent and acknowledged.

Pure functions over a :class:`History`, so a saved history can be re-checked and the
checker itself is unit-tested. The rules (Jepsen-style, for a chat):

* every acknowledged message reaches every client exactly once;
* uniform agreement: a message any client saw, acknowledged or not, every other client
  that was in the channel when it was sent (``joined`` before it, session never lost)
  sees too; a node must not show its users an entry the cluster then loses;
* nothing is delivered that was never sent, and nothing twice;
* every client sees messages in log order (msgids carry the log index), which makes the
  order the same for everyone; a message has the same msgid everywhere;
* no client ever loses its session (a failed resume) or has a line refused;
* the plain reclaiming client (:mod:`tests.chaos.plain`) sees every line of the others
  exactly once, in log order, except the lines it is not owed: see
  :func:`plain_violations`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Position = tuple[int, int]


@dataclass
class History:
    """Everything one run recorded (times in seconds since the run started)."""

    seed: int
    sent: dict[str, float] = field(default_factory=dict)  # text -> when sent
    acked: dict[str, float] = field(default_factory=dict)  # text -> when acknowledged
    delivered: dict[str, list[list[str]]] = field(default_factory=dict)  # client -> [text, msgid]
    faults: list[list[str | float]] = field(default_factory=list)  # [start, end, what]
    refused: list[list[str]] = field(default_factory=list)  # [client, text, what the node said]
    lost: list[list[str | float]] = field(default_factory=list)  # [client, when]: sessions lost
    #: client -> when its JOIN was acknowledged: it is in the channel for every message
    #: sent after that (on one clock for all clients: sent after the JOIN committed means
    #: later in the log). A client missing here is not held to uniform agreement.
    joined: dict[str, float] = field(default_factory=dict)
    #: plain client -> what it saw and did, in order (see :class:`tests.chaos.plain.PlainSession`):
    #: ``["welcome", t, "back"|"new"]``, ``["join", t]``, ``["line", text]``,
    #: ``["replay", t, shown, total]``, ``["drop", t, why]``, ``["gave-up", t, attempts]``.
    #: Its lines carry no msgid (it negotiates nothing); the others' msgids place them.
    plain: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: When the clients' clock (``sent``, ``acked``, ``joined``, plain events) started, on
    #: the faults' clock (seconds since the run started).
    clients_from: float = 0.0

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> History:
        return cls(**json.loads(path.read_text()))


def log_position(msgid: str) -> tuple[int, int]:
    """``"1a-2"`` -> (26, 2): the log index of the entry, then the message within it."""
    index, _, count = msgid.partition("-")
    return int(index, 16), int(count or 0)


def check(history: History) -> list[str]:
    """Every violation of the rules above, as one readable line each (none: correct)."""
    violations = [f"{client}: session lost at {when:.1f}s" for client, when in history.lost]
    violations += [f"{client}: {text} refused ({why})" for client, text, why in history.refused]
    msgids: dict[str, str] = {}
    for client, deliveries in sorted(history.delivered.items()):
        texts = [text for text, _ in deliveries]
        seen: set[str] = set()
        for text in texts:
            if text in seen:
                violations.append(f"{client}: {text} delivered more than once")
            seen.add(text)
            if text not in history.sent:
                violations.append(f"{client}: {text} delivered but never sent")
        for text in sorted(set(history.acked) - seen):
            violations.append(f"{client}: acknowledged {text} never delivered")
        previous: tuple[int, int] | None = None
        for text, msgid in deliveries:
            if msgids.setdefault(text, msgid) != msgid:
                violations.append(f"{client}: {text} has msgid {msgid}, elsewhere {msgids[text]}")
            position = log_position(msgid)
            if previous is not None and position <= previous:
                violations.append(f"{client}: {text} ({msgid}) delivered out of log order")
            previous = position
    return violations + disagreements(history) + plain_violations(history)


def disagreements(history: History) -> list[str]:
    """Uniform agreement, for the messages nobody acknowledged (an acknowledged one
    missing somewhere is reported above): each one delivered to some client must reach
    every client that was in the channel before it was sent and kept its session."""
    seen_by: dict[str, list[str]] = {}
    for client, deliveries in sorted(history.delivered.items()):
        for text in dict.fromkeys(text for text, _ in deliveries):
            seen_by.setdefault(text, []).append(client)
    lost = {str(client) for client, _ in history.lost}
    members = {c: t for c, t in history.joined.items() if c not in lost}
    violations = []
    for text, clients in seen_by.items():
        sent = history.sent.get(text)
        if text in history.acked or sent is None:  # acknowledged, or a ghost: reported
            continue
        for client, joined in sorted(members.items()):
            if joined < sent and client not in clients:
                violations.append(
                    f"{client}: {text} never delivered, though {', '.join(clients)} saw it "
                    f"(uniform agreement)"
                )
    return violations


def unavailability(history: History, longer_than: float = 1.0) -> list[tuple[float, float]]:
    """Windows with no acknowledgement at all for more than ``longer_than`` seconds."""
    times = sorted(history.acked.values())
    return [(a, b) for a, b in itertools.pairwise(times) if b - a > longer_than]


@dataclass
class Gap:
    """Lines a plain client is not owed: those after ``after`` in the log (the last line
    it had seen), up to where it was back: a line sent after ``until_time`` (its JOIN, or
    its reclaim, had been answered: the line is later in the log) or placed at or after
    ``until_position`` (the first line it saw once back) is owed again. A line no other
    client saw (so with no known position) is placed by when it was sent instead:
    excused if sent after ``after_time`` (the drop). Open (``until_time`` None) while
    the client is not back."""

    why: str
    after: Position
    after_time: float
    until_time: float | None = None
    until_position: Position | None = None

    def excuses(self, position: Position | None, sent: float) -> bool:
        if self.until_time is not None and sent > self.until_time:
            return False
        if position is None:
            return sent >= self.after_time
        return position > self.after and (
            self.until_position is None or position < self.until_position
        )


@dataclass
class PlainRun:
    """What :func:`plain_walk` made of one plain client's events."""

    seen: list[tuple[str, Position | None]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    reclaims: int = 0  # Welcome back
    new_sessions: int = 0  # Welcome to ...: the first, and each failed reclaim
    replays: int = 0  # replay notices
    cut: int = 0  # of which said the replay was cut
    drops: int = 0
    violations: list[str] = field(default_factory=list)


def positions(history: History) -> dict[str, Position]:
    """Where each line is in the log, by the msgid the msgid-aware clients saw."""
    found: dict[str, Position] = {}
    for _client, deliveries in sorted(history.delivered.items()):
        for text, msgid in deliveries:
            if text not in found and msgid:
                found[text] = log_position(msgid)
    return found


def plain_walk(name: str, events: list[list[Any]], placed: dict[str, Position]) -> PlainRun:
    """Follow one plain client's events: what it saw (with log positions), its gaps, and
    what is wrong in what it saw (duplicates, order, its own lines shown back)."""
    run = PlainRun()
    last: Position = (-1, -1)  # the latest log position it has seen
    last_drop = -math.inf
    welcomed_at = 0.0
    rejoining: Gap | None = None  # a gap waiting for the client's JOIN
    placing: list[Gap] = []  # gaps waiting for the first line seen after them
    seen: set[str] = set()
    for event in events:
        kind = event[0]
        if kind == "welcome":
            welcomed_at = float(event[1])
            if event[2] == "back":
                run.reclaims += 1
            else:
                run.new_sessions += 1
                if rejoining is None:
                    anew = f"its session had ended (registered anew at {welcomed_at:.1f}s)"
                    why = "before it first joined" if run.new_sessions == 1 else anew
                    rejoining = Gap(why, last, last_drop)
                    run.gaps.append(rejoining)
        elif kind == "join" and rejoining is not None:
            rejoining.until_time = float(event[1])
            placing.append(rejoining)
            rejoining = None
        elif kind == "replay":
            run.replays += 1
            if int(event[2]) < int(event[3]):
                run.cut += 1
                why = f"the replay at {float(event[1]):.1f}s was cut ({event[2]} of {event[3]})"
                gap = Gap(why, last, last_drop, until_time=welcomed_at)
                run.gaps.append(gap)
                placing.append(gap)
        elif kind == "drop":
            run.drops += 1
            last_drop = float(event[1])
        elif kind == "gave-up":
            run.violations.append(f"{name}: gave up reconnecting after {event[2]} failed "
                                  f"attempts in a row at {float(event[1]):.1f}s")  # fmt: skip
        elif kind == "line":
            text = str(event[1])
            position = placed.get(text)
            run.seen.append((text, position))
            if text in seen:
                run.violations.append(f"{name}: {text} ({_msgid(position)}) delivered more "
                                      f"than once")  # fmt: skip
                continue
            seen.add(text)
            if text.rpartition("-")[0] == name:
                run.violations.append(f"{name}: its own {text} delivered back to it "
                                      f"(it has no echo-message)")  # fmt: skip
            if position is None:
                continue
            for gap in placing:
                gap.until_position = position
            placing = []
            if position <= last:
                run.violations.append(f"{name}: {text} ({_msgid(position)}) delivered out of "
                                      f"log order")  # fmt: skip
            last = max(last, position)
    if rejoining is not None:
        run.violations.append(f"{name}: not back in the channel by the end ({rejoining.why})")
    return run


def plain_violations(history: History) -> list[str]:
    """The plain reclaiming clients' rules. Each must see, exactly once and in log order,
    every line of the other clients that is in the log (acknowledged, or seen by any
    client), except the lines it is not owed:

    * lines said before it first joined (sent before its JOIN was answered and placed
      before the first line it saw);
    * when a reclaim failed because its session had ended meanwhile (the old node
      restarted and ended its sessions, or the cluster gave up on it; the client gets
      ``Welcome to`` instead of ``Welcome back`` and joins anew): the lines after the
      last one it had seen, up to its new JOIN, as before its first join;
    * when the replay notice says the replay was cut (the per-session cap, or the
      history ran out): the lines after the last one it had seen and before the first
      replayed one.

    A successful reclaim owes it everything said while it was away (the replay). Its own
    lines are never owed to it (it has no echo-message) and must not come back. Failed
    reclaims are not violations (the summary counts them), but ending the run outside the
    channel, or giving up reconnecting, is.
    """
    placed = positions(history)
    seen_by: dict[str, list[str]] = {}
    for client, deliveries in sorted(history.delivered.items()):
        for text in dict.fromkeys(text for text, _ in deliveries):
            seen_by.setdefault(text, []).append(client)
    violations = []
    for name, events in sorted(history.plain.items()):
        run = plain_walk(name, events, placed)
        violations += run.violations
        violations += [f"{name}: {text} delivered but never sent"
                       for text, _ in run.seen if text not in history.sent]  # fmt: skip
        for text, position, sent in missed(history, name, run, placed):
            where = f"{_msgid(position)}, sent {sent:.1f}s"
            if text in history.acked:
                violations.append(f"{name}: acknowledged {text} ({where}) never delivered")
            else:
                violations.append(f"{name}: {text} ({where}) never delivered, though "
                                  f"{', '.join(seen_by.get(text, []))} saw it "
                                  f"(uniform agreement)")  # fmt: skip
    return violations


def missed(history: History, name: str, run: PlainRun, placed: dict[str, Position]
           ) -> list[tuple[str, Position | None, float]]:  # fmt: skip
    """The lines plain client ``name`` was owed and never saw, in log order (those no
    other client saw, so unplaced, last): (text, position, when sent)."""
    seen = {text for text, _ in run.seen}
    found = []
    for text in set(history.acked) | set(placed):
        sent = history.sent.get(text)
        if sent is None or text in seen or text.rpartition("-")[0] == name:
            continue  # a ghost (reported), seen, or its own
        position = placed.get(text)
        if not any(gap.excuses(position, sent) for gap in run.gaps):
            found.append((text, position, sent))
    return sorted(found, key=lambda item: (item[1] is None, item[1] or (0, 0), item[0]))


def plain_summary(history: History, name: str) -> list[str]:
    """How a plain client fared, for the run's report: one line, then one per run of
    consecutive lines it was owed and never saw (in log order, between lines it saw)."""
    placed = positions(history)
    run = plain_walk(name, history.plain.get(name, []), placed)
    report = [f"{name}: {len(run.seen)} lines seen, {run.drops} drops, {run.reclaims} "
              f"reclaims, {max(0, run.new_sessions - 1)} failed (registered anew), "
              f"{run.replays} replays ({run.cut} cut)"]  # fmt: skip
    lost = {text for text, _, _ in missed(history, name, run, placed)}
    shown = {text for text, _ in run.seen} | lost  # what it saw, and what it should have
    spans: list[list[tuple[Position, str]]] = []
    previous_lost = False
    for position, text in sorted((placed[text], text) for text in shown if text in placed):
        if text in lost and not previous_lost:
            spans.append([])
        if text in lost:
            spans[-1].append((position, text))
        previous_lost = text in lost
    for span in spans:
        (first, a), (last, b) = span[0], span[-1]
        begin, end = history.sent[a], history.sent[b]
        at = begin + history.clients_from
        around = [str(what) for start, stop, what in history.faults
                  if float(start) - 1 <= at <= float(stop) + 1]  # fmt: skip
        lines = f"{a} ({_msgid(first)}, sent {begin:.1f}s)"
        if len(span) > 1:
            lines += f" .. {b} ({_msgid(last)}, sent {end:.1f}s)"
        during = f", during: {'; '.join(around)}" if around else ""
        report.append(f"{name}: {len(span)} owed lines never delivered: {lines}{during}")
    return report


def _msgid(position: Position | None) -> str:
    return "no msgid" if position is None else f"{position[0]:x}-{position[1]}"
