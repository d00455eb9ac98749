"""Which addresses a node may plausibly send a client to, judged from where the client asked.

Pure. A node answering the public directory (:mod:`twistedchat.discovery.public`) could
lie, or be an impostor on a plain connection: it must not be able to point the client at
just any host, such as a service on the client's own machine or its private network. So
an answer's addresses must lie in the same *scope* as the address the client asked:
loopback answers for a loopback seed only (``make run``, tests), private-network ones for
a private seed, public ones for a public seed. DNS names are neither, and are taken from
any seed that is not loopback (a cluster behind names could be anywhere outside). Some
addresses are never a node's: unspecified, multicast, broadcast, link-local, reserved.
"""

from __future__ import annotations

import ipaddress

LOOPBACK, PRIVATE, GLOBAL, NAME = "loopback", "private", "global", "name"


def host_of(address: str) -> str:
    """The host of ``HOST:PORT``, without the brackets of an IPv6 literal."""
    return address.rpartition(":")[0].strip("[]")


def scope(address: str) -> str | None:
    """The scope of ``HOST:PORT``, or None when no node would ever be at it."""
    host = host_of(address)
    if host.lower() == "localhost":
        return LOOPBACK
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return NAME
    if ip.is_loopback:
        return LOOPBACK if not _broadcast(ip) else None
    if ip.is_unspecified or ip.is_multicast or ip.is_link_local or ip.is_reserved:
        return None
    if _broadcast(ip):
        return None
    return PRIVATE if ip.is_private else GLOBAL


def plausible(address: str, asked: str) -> bool:
    """Whether a node asked at ``asked`` may send a client to ``address``."""
    theirs, ours = scope(address), scope(asked)
    if theirs is None or ours is None:
        return False
    if ours == LOOPBACK or theirs == LOOPBACK:
        return theirs == ours
    return theirs == ours or NAME in (theirs, ours)


def _broadcast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """255.255.255.255 and the broadcast address of loopback (127.255.255.255)."""
    return ip.version == 4 and str(ip) in ("255.255.255.255", "127.255.255.255")
