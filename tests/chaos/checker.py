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
* no client ever loses its session (a failed resume) or has a line refused.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    return violations + disagreements(history)


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
