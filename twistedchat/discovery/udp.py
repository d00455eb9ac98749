"""The Twisted side of discovery: a shared UDP port, broadcast out, datagrams in.

Several nodes on one host share the discovery port (SO_REUSEADDR + SO_REUSEPORT); Linux
delivers every broadcast datagram to all of them, and unicast replies go to the querier's
own port, so sharing loses nothing.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from collections.abc import Callable

from twisted.internet.interfaces import IListeningPort, IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from twistedchat.discovery.wire import (
    Announcement,
    Datagram,
    Decoder,
    Offer,
    Query,
    Rejected,
    encode,
)
from twistedchat.ratelimit import KeyedBuckets

log = Logger()

#: At most one log line per rejection reason per this many seconds (a flood stays quiet).
LOG_EVERY = 60.0
#: Queries one source address may have answered: a burst, then this many per second.
#: Every answer is a datagram we send, so an unlimited flood of queries (even replayed
#: ones within the freshness window's cache) would make us a traffic amplifier.
QUERY_BURST, QUERY_RATE = 20, 5.0


class DiscoveryProtocol(DatagramProtocol):
    """Sends datagrams to the broadcast address (and any unicast targets), decodes replies."""

    def __init__(
        self,
        decoder: Decoder,
        secret: bytes,
        targets: list[tuple[str, int]],
        clock: IReactorTime,
        wall: Callable[[], float],
        *,
        on_announcement: Callable[[Announcement], None] = lambda a: None,
        on_query: Callable[[Query], Offer | None] = lambda q: None,
        on_offer: Callable[[Offer], None] = lambda o: None,
    ) -> None:
        self.decoder = decoder
        self.secret = secret
        self.targets = targets
        self.clock = clock
        self.wall = wall
        self.on_announcement = on_announcement
        self.on_query = on_query
        self.on_offer = on_offer
        self._last_logged: dict[str, float] = {}
        self._queries = KeyedBuckets(QUERY_BURST, QUERY_RATE)
        self.rate_limited = 0  # queries left unanswered because their source sent too many

    def send(self, datagram: Datagram, to: tuple[str, int] | None = None) -> None:
        """Broadcast ``datagram`` (or send it to ``to``); a send error is logged, not raised.

        That includes a datagram too big to encode: an offer echoes the querier's nonce,
        and a query that just fits (a nonce JSON escapes six bytes a character) makes an
        offer that does not. Raised, it would escape :meth:`datagramReceived` and cost a
        traceback in the log for every such query.
        """
        if self.transport is None:
            return
        try:
            data = encode(datagram, self.secret, self.wall())
        except ValueError as error:
            self._log_once("too-big-to-send", "discovery: not sending {t}: {e}", error,
                           type(datagram).__name__)  # fmt: skip
            return
        for target in [to] if to is not None else self.targets:
            try:
                self.transport.write(data, target)
            except OSError as error:
                self._log_once(f"send-{target}", "discovery: cannot send to {t}: {e}", error)

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            datagram = self.decoder.decode(data, self.wall())
        except Rejected as rejected:
            self._log_once(rejected.reason, "discovery: dropped a datagram from {t}: {e}",
                           rejected.reason, addr)  # fmt: skip
            return
        if isinstance(datagram, Announcement):
            self.on_announcement(datagram)
        elif isinstance(datagram, Query):
            if not self._queries.allow(addr[0], self.clock.seconds()):
                self.rate_limited += 1
                self._log_once("rate", "discovery: too many queries from {t}; {e} ignored",
                               self.rate_limited, addr[0])  # fmt: skip
                return
            offer = self.on_query(datagram)
            if offer is not None:
                self.send(offer, to=addr)
        else:
            self.on_offer(datagram)

    def _log_once(self, key: str, fmt: str, error: object, target: object = None) -> None:
        now = self.clock.seconds()
        if now - self._last_logged.get(key, float("-inf")) >= LOG_EVERY:
            self._last_logged[key] = now
            log.warn(fmt, t=target, e=error)


def listen_discovery(
    reactor: IReactorUDP, port: int, protocol: DiscoveryProtocol, interface: str = ""
) -> IListeningPort:
    """Bind a broadcast-capable UDP socket that other local nodes may bind too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((interface, port))
        sock.setblocking(False)
        return reactor.adoptDatagramPort(sock.fileno(), socket.AF_INET, protocol)  # type: ignore[attr-defined]
    finally:
        sock.close()  # the reactor holds its own duplicate of the descriptor


def default_broadcast(interface: str) -> str:
    """The broadcast address for nodes listening on ``interface``.

    Loopback (and "listen everywhere" on a one-machine setup) gets 127.255.255.255, so a
    local cluster works out of the box without ever broadcasting to the whole LAN.
    """
    if interface in ("", "0.0.0.0", "localhost") or interface.startswith("127."):
        return "127.255.255.255"
    try:
        output = subprocess.run(
            ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        output = ""
    for line in output.splitlines():
        words = line.split()
        if "inet" in words:
            network = ipaddress.ip_interface(words[words.index("inet") + 1])
            if str(network.ip) == interface:
                return str(network.network.broadcast_address)
    return str(ipaddress.ip_interface(f"{interface}/24").network.broadcast_address)
