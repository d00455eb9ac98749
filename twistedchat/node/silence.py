"""Which members the leader marks down, or up again, for replay on reclaim (decision 0032).

A member the leader has not heard from over Raft for ``silence`` seconds is reported down
with the commit index it is known to have learnt (so handed out), or 0 when that is not
known (it died before answering this leader); one heard again after that is reported up.
Pure: the agent feeds it what the replica and the log say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Report:
    node: str
    down: bool
    handed_out: int = 0  # down: the last log index the node handed out (0: not known)


@dataclass(slots=True)
class SilenceWatch:
    """Turns last contacts into down and up reports, each change reported once per
    ``again`` seconds (a report takes a moment to reach the log, and may be lost)."""

    silence: float
    again: float = 2.0
    _reported: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def reports(
        self,
        members: Iterable[str],
        now: float,
        last_heard: Mapping[str, float],
        known_commit: Callable[[str], int | None],
        is_down: Callable[[str], bool | None],
    ) -> list[Report]:
        """What to report now about ``members`` (the leader not among them); ``is_down``
        says None of a node the log does not know (it never started: nothing to mark)."""
        found = []
        members = list(members)
        for node in members:
            silent = now - last_heard.get(node, now) > self.silence
            marked = is_down(node)
            if marked is None or silent == marked:
                self._reported.pop(node, None)
                continue
            earlier = self._reported.get(node)
            if earlier is not None and earlier[0] == silent and now - earlier[1] < self.again:
                continue
            self._reported[node] = (silent, now)
            handed_out = (known_commit(node) or 0) if silent else 0
            found.append(Report(node, silent, handed_out))
        for gone in set(self._reported) - set(members):
            del self._reported[gone]
        return found
