"""Who may open IRC over WebSocket, and in which form (pure: the HTTP request is already
parsed; :mod:`~twistedchat.web.site` asks and answers).

The IRCv3 WebSocket specification names two subprotocols: ``text.ircv3.net`` (each line a
UTF-8 text message) and ``binary.ircv3.net`` (each line a binary message, raw bytes). The
client lists what it speaks, in its order of preference; we take the first of ours. A
client that offers none gets text, which is what simple tools (websocat, a browser's
``new WebSocket(url)``) expect; one that offers only others is refused, since it would not
understand us.

Browsers send an ``Origin`` on every WebSocket request, and any page on the web can try to
open one to a node: without a check, a page a user visits could talk IRC as that user's
browser. Configured patterns (``--websocket-origin``) decide when there are any; otherwise
a page of this node or of any node of the cluster (the bundled web client, which fails
over to the other nodes) is allowed, and so is a client that sends no Origin at all (not
a browser, so no page is speaking for a user).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

TEXT = "text.ircv3.net"
BINARY = "binary.ircv3.net"
SUBPROTOCOLS = (TEXT, BINARY)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a WebSocket request is not accepted, with its HTTP status."""

    status: int
    reason: str


def choose_subprotocol(offered: Sequence[str]) -> str | Refusal | None:
    """The subprotocol to answer with: the client's first of ours, ``None`` (plain text
    frames, no header) when it offered none, or a refusal when it offered only others."""
    if not offered:
        return None
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return Refusal(400, f"unsupported subprotocol; this server speaks {', '.join(SUBPROTOCOLS)}")


def origin_of(url: str) -> str | None:
    """The origin a page served from ``url`` (``ws://``, ``wss://``, ``http(s)://``) has:
    scheme, host and port, as a browser sends it in ``Origin`` (an IPv6 host keeps its
    brackets); None for a URL that names no host or a port out of range."""
    try:
        parts = urlsplit(url)
        number = parts.port
    except ValueError:  # a bad IPv6 literal, a port out of range
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    default = {"http": 80, "https": 443}.get(scheme)
    port = "" if number in (None, default) else f":{number}"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}{port}"


class OriginPolicy:
    """Decides whether a request's ``Origin`` may open IRC over WebSocket.

    ``cluster_origins()`` (the web origins of the cluster's nodes, this one's included:
    their URLs, ``--websocket-url``, are in the log) are always allowed; ``patterns``
    (shell-style: ``https://*.example.org``, ``*`` for any) allow more. The request's
    ``Host`` is not trusted: a page of any site can name a host of its own that resolves
    to this node (DNS rebinding) and would pass a same-host check.
    """

    def __init__(
        self, patterns: Iterable[str], cluster_origins: Callable[[], Iterable[str]]
    ) -> None:
        self.patterns = tuple(patterns)
        self._cluster_origins = cluster_origins

    def cluster(self) -> set[str]:
        """The web origins of the cluster's nodes (for the web client's own CSP)."""
        return set(self._cluster_origins())

    def check(self, origin: str | None) -> Refusal | None:
        """None if a request with this ``Origin`` header (None: it sent none, so it is
        no browser's page) may open IRC over WebSocket, else why not."""
        if origin is None:
            return None
        origin = origin.strip().lower()
        if origin in self._cluster_origins():
            return None
        if any(fnmatchcase(origin, pattern.lower()) for pattern in self.patterns):
            return None
        shown = origin[:100].encode("ascii", "replace").decode()
        return Refusal(403, f"origin {shown} may not open IRC over WebSocket here")
