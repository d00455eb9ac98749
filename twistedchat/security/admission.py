"""No node joins on the cluster secret alone: it must prove its identity over TLS first.

Discovery datagrams are authenticated by the cluster secret, and the leader adds every
node it hears of as a learner. With peer TLS, a node that knows the secret but has no
certificate of the cluster CA for its node id could then never talk to anyone, yet would
sit in the configuration. So, before a node outside the configuration counts as heard,
this gate dials it once (:func:`~twistedchat.security.peertls.probe`): a TLS handshake
with our certificate, checking the CA and the node id, then closed. Until that succeeds
its announcements are held back; once it does, the latest one is passed on at once, and
the node stays admitted for ``ttl`` seconds (then it is probed again). A failed probe is
retried after ``retry`` seconds and logged once per run of failures.

Members of the configuration pass unchecked: their links are checked by the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.discovery.wire import Announcement
from twistedchat.security.peertls import error_text

log = Logger()

#: Nodes remembered at most; discovery is authenticated, so this only bounds a mistake.
MAX_TRACKED = 1024


@dataclass
class _Node:
    admitted_until: float = float("-inf")
    next_probe: float = float("-inf")
    probing: bool = False
    refused: bool = False  # the last probe failed (we said so once)
    pending: Announcement | None = None
    last_seen: float = 0.0


class PeerAdmission:
    """Passes announcements to ``deliver`` once their node proved who it is."""

    def __init__(
        self,
        deliver: Callable[[Announcement], None],
        probe: Callable[[str], Deferred[None]],
        is_member: Callable[[str], bool],
        clock: IReactorTime,
        *,
        ttl: float = 60.0,
        retry: float = 5.0,
    ) -> None:
        self.deliver = deliver
        self.probe = probe
        self.is_member = is_member
        self.clock = clock
        self.ttl = ttl
        self.retry = retry
        self._nodes: dict[str, _Node] = {}

    def heard(self, announcement: Announcement) -> None:
        node_id = announcement.node_id
        if self.is_member(node_id):
            self.deliver(announcement)
            return
        now = self.clock.seconds()
        node = self._nodes.get(node_id)
        if node is None:
            self._forget_old(now)
            node = self._nodes[node_id] = _Node()
        node.last_seen = now
        if now < node.admitted_until:
            self.deliver(announcement)
            return
        node.pending = announcement
        if not node.probing and now >= node.next_probe:
            self._probe(node_id, node)

    def admitted(self, node_id: str) -> bool:
        node = self._nodes.get(node_id)
        return node is not None and self.clock.seconds() < node.admitted_until

    def _probe(self, node_id: str, node: _Node) -> None:
        node.probing = True
        try:
            attempt = self.probe(node_id)
        except Exception as error:  # a node id we cannot even dial
            self._refused(Failure(error), node_id, node)
            return
        attempt.addCallbacks(self._proved, self._refused, callbackArgs=(node_id, node),
                             errbackArgs=(node_id, node))  # fmt: skip

    def _proved(self, _: Any, node_id: str, node: _Node) -> None:
        now = self.clock.seconds()
        node.probing = False
        node.admitted_until = now + self.ttl
        if node.refused:
            log.info("peer TLS: node {node} now proves its identity", node=node_id)
        node.refused = False
        pending, node.pending = node.pending, None
        if pending is not None and self._nodes.get(node_id) is node:
            self.deliver(pending)

    def _refused(self, failure: Failure, node_id: str, node: _Node) -> None:
        node.probing = False
        node.next_probe = self.clock.seconds() + self.retry
        node.admitted_until = float("-inf")
        if not node.refused:
            node.refused = True
            log.warn(
                "peer TLS: not admitting node {node}: {why}",
                node=node_id,
                why=error_text(failure),
            )

    def _forget_old(self, now: float) -> None:
        if len(self._nodes) < MAX_TRACKED:
            return
        for node_id, node in sorted(self._nodes.items(), key=lambda item: item[1].last_seen):
            if not node.probing:
                del self._nodes[node_id]
            if len(self._nodes) < MAX_TRACKED // 2:
                break
