"""Who we have heard lately: the nodes of our cluster, as their announcements say.

Pure: the caller passes the time. Bounded, so a flood of made-up node ids (which would
need the secret anyway) cannot grow memory without limit.
"""

from __future__ import annotations

from twistedchat.discovery.wire import Announcement


class Directory:
    """Latest announcement per node, forgotten once older than ``expiry`` seconds."""

    def __init__(self, expiry: float, max_nodes: int = 1024) -> None:
        self.expiry = expiry
        self.max_nodes = max_nodes
        self._nodes: dict[str, tuple[Announcement, float]] = {}

    def heard(self, announcement: Announcement, now: float) -> None:
        self._nodes.pop(announcement.node_id, None)
        self._nodes[announcement.node_id] = (announcement, now)  # newest last
        if len(self._nodes) > self.max_nodes:
            stalest = min(self._nodes, key=lambda node: self._nodes[node][1])
            del self._nodes[stalest]

    def get(self, node_id: str) -> Announcement | None:
        entry = self._nodes.get(node_id)
        return entry[0] if entry else None

    def last_heard(self, node_id: str) -> float | None:
        entry = self._nodes.get(node_id)
        return entry[1] if entry else None

    def forget(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    def alive(self, now: float) -> list[Announcement]:
        return [a for a, heard in self._nodes.values() if now - heard <= self.expiry]

    def leader(self, now: float) -> Announcement | None:
        """The live node claiming leadership in the highest term."""
        leaders = [a for a in self.alive(now) if a.role == "leader"]
        return max(leaders, key=lambda a: (a.term, a.node_id), default=None)

    def least_loaded(self, now: float, roles: frozenset[str]) -> Announcement | None:
        """The live node with room and the lowest load among those whose role is in ``roles``."""
        open_nodes = [a for a in self.alive(now) if a.clients < a.capacity and a.role in roles]
        return min(open_nodes, key=lambda a: (a.clients / a.capacity, a.node_id), default=None)
