"""What a client without the cluster secret knows of the nodes, and which one it picks.

Pure: the Twisted locator (:mod:`twistedchat.client.public`) asks nodes' IRC ports the
public directory question and hands each answer here. :class:`KnownNodes` keeps the seed
addresses the user gave and the nodes answers named, checks every answer before it
believes any of it, and says whom to ask next and where to connect:

- the leader's assignment, when the leader answered (only it assigns) and its term is not
  older than one already seen (a deposed leader, cut off, still thinks it leads);
- else the node the answer names as leader is asked too (the caller does that);
- else the answering node itself if it has room, else the first node with room.

Addresses the client just failed to use are avoided as long as anything else is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set

from twistedchat.discovery.plausible import plausible
from twistedchat.discovery.public import Answer, Refused

#: Learned addresses kept at most (seeds are always kept).
MAX_KNOWN = 64


class KnownNodes:
    """Seeds and learned nodes, for clients connecting over TLS (``tls``) or plain TCP."""

    def __init__(self, seeds: Sequence[str], tls: bool) -> None:
        self.seeds = list(dict.fromkeys(seeds))
        self.tls = tls
        self.learned: list[str] = []  # newest answer's nodes first
        self.leader: str | None = None
        self.term = 0  # highest term an accepted answer named a leader in
        self.failures: dict[str, int] = {}  # address -> questions it failed in a row

    def to_ask(self, excluded: Set[str] = frozenset()) -> list[str]:
        """Whom to ask, best first: the leader, the nodes last heard of, then the seeds."""
        order = [self.leader] if self.leader is not None else []
        order += [*self.learned, *self.seeds]
        usable = [a for a in dict.fromkeys(order) if a is not None and a not in excluded]
        return sorted(usable, key=lambda a: self.failures.get(a, 0))  # stable: order kept

    def failed(self, address: str) -> None:
        """``address`` gave no usable answer: ask it after the others next time, so a few
        dead or hostile nodes cannot hide the good ones from a bounded search."""
        self.failures[address] = self.failures.get(address, 0) + 1
        while len(self.failures) > MAX_KNOWN + len(self.seeds):
            del self.failures[next(iter(self.failures))]

    def check(self, asked: str, answer: Answer) -> Answer:
        """``answer`` if everything in it is plausible from ``asked``, else :class:`Refused`.

        Nodes the client cannot use (no endpoint of its kind: TLS or plain) are fine; an
        address out of the asked address's scope, or an answer that lists its addresses
        twice, is not: an honest node would never send it.
        """
        seen: set[str] = set()
        for node in answer.nodes:
            for address in (node.plain, node.tls):
                if address is None:
                    continue
                if address in seen:
                    raise Refused("implausible", f"{address} listed twice")
                if not plausible(address, asked):
                    raise Refused("implausible", f"{address} is out of reach from {asked}")
                seen.add(address)
        return answer

    def learn(self, asked: str, answer: Answer) -> None:
        """Believe a checked ``answer`` from ``asked``: its nodes and its leader."""
        self.failures.pop(asked, None)
        addresses = [a for a in (n.address(self.tls) for n in answer.nodes) if a is not None]
        self.learned = list(dict.fromkeys([*addresses, *self.learned]))[:MAX_KNOWN]
        if answer.leader is not None and answer.term >= self.term:
            self.term = answer.term
            self.leader = answer.nodes[answer.leader].address(self.tls)

    def assigned(self, answer: Answer, excluded: Set[str] = frozenset()) -> str | None:
        """The leader's assignment in ``answer``, if it is usable and not outdated."""
        if answer.assigned is None or answer.role != "leader" or answer.term < self.term:
            return None
        address = answer.nodes[answer.assigned].address(self.tls)
        return address if address is not None and address not in excluded else None

    def leader_to_ask(self, asked: str, answer: Answer, excluded: Set[str]) -> str | None:
        """The leader an answer from a follower names, to ask for its assignment."""
        if answer.role == "leader" or answer.leader is None or answer.term < self.term:
            return None
        address = answer.nodes[answer.leader].address(self.tls)
        return address if address not in (None, asked) and address not in excluded else None

    def fallback(self, asked: str, answer: Answer, excluded: Set[str]) -> str | None:
        """Without an assignment: the answering node if it has room, else any with room."""
        usable = [
            address
            for node in answer.nodes
            if node.open and (address := node.address(self.tls)) is not None
            and address not in excluded
        ]  # fmt: skip
        if asked in usable:
            return asked
        return usable[0] if usable else None


def first_usable(addresses: Iterable[str], excluded: Set[str]) -> str | None:
    """The first of ``addresses`` not in ``excluded``, else the first of all (a node the
    client failed with may have come back), else None."""
    candidates = list(addresses)
    return next((a for a in candidates if a not in excluded), candidates[0] if candidates else None)
