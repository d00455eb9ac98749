"""Find the node to use: broadcast one query, gather offers, prefer the leader's choice.

Nodes below their client capacity answer; the leader answers with the node it assigns
(the least loaded). A client takes the assigned node if the leader's answer arrives within
the wait, else the first node that offered itself.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Set

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IReactorUDP
from twisted.internet.task import deferLater

from twistedchat.discovery.udp import DiscoveryProtocol
from twistedchat.discovery.wire import Decoder, Offer, Query


class NoNodeAnswered(Exception):
    """No node of the cluster offered room within the wait."""


def choose(offers: list[Offer], excluded: Set[str] = frozenset()) -> Offer:
    """The leader's assignment if there is one, else the first node that offered itself.

    Offers of nodes in ``excluded`` (IRC addresses the client just failed to use; the
    leader may not have noticed yet that they are dead) are taken only if nothing else is.
    """
    offers = [o for o in offers if o.irc not in excluded] or offers
    assigned = [o for o in offers if o.assigned]
    if assigned:
        return assigned[0]
    if offers:
        return offers[0]
    raise NoNodeAnswered("no node of the cluster answered (all full, or none reachable)")


async def discover(
    reactor: IReactorUDP,
    cluster: str,
    secret: bytes,
    targets: list[tuple[str, int]],
    wait: float = 0.5,
    excluded: Set[str] = frozenset(),
) -> Offer:
    """Broadcast a query to ``targets`` (broadcast address, port) and pick a node."""
    nonce = secrets.token_hex(8)
    offers: list[Offer] = []
    clock: IReactorTime = reactor  # type: ignore[assignment]
    protocol = DiscoveryProtocol(
        Decoder(secret, cluster),
        secret,
        targets,
        clock,
        time.time,
        on_offer=lambda offer: offers.append(offer) if offer.nonce == nonce else None,
    )
    port = reactor.listenUDP(0, protocol, interface="", maxPacketSize=8192)
    try:
        port.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # type: ignore[attr-defined]
        protocol.send(Query(cluster, nonce))
        await deferLater(clock, wait, lambda: None)
    finally:
        stopped = port.stopListening()
        if isinstance(stopped, Deferred):
            await stopped
    return choose(offers, excluded)


def discovery_locator(
    reactor: IReactorUDP, cluster: str, secret: bytes, targets: list[tuple[str, int]]
) -> Callable[[frozenset[str]], Awaitable[str]]:
    """A locator for :class:`~twistedchat.client.api.ChatClient`: ask the cluster each time."""

    async def locate(excluded: frozenset[str]) -> str:
        offer = await discover(reactor, cluster, secret, targets, excluded=excluded)
        return offer.irc

    return locate
