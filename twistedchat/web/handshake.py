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


def origin_of(url: str) -> str:
    """The origin a page served from ``url`` (``ws://``, ``wss://``, ``http(s)://``) has:
    scheme, host and port, as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    default = {"http": 80, "https": 443}.get(scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{(parts.hostname or '').lower()}{port}"


class OriginPolicy:
    """Decides whether a request's ``Origin`` may open IRC over WebSocket.

    ``patterns`` are shell-style (``https://*.example.org``, ``*`` for any). Without
    patterns, ``cluster_origins()`` (the web origins of the cluster's nodes, this one's
    included) are allowed, and so is the request's own host (``Host``), so a node whose
    published URL names another address than the one a user typed still serves its page.
    """

    def __init__(
        self, patterns: Iterable[str], cluster_origins: Callable[[], Iterable[str]]
    ) -> None:
        self.patterns = tuple(patterns)
        self._cluster_origins = cluster_origins

    def cluster(self) -> set[str]:
        """The web origins of the cluster's nodes (for the web client's own CSP)."""
        return set(self._cluster_origins())

    def check(self, origin: str | None, host: str | None, secure: bool) -> Refusal | None:
        if origin is None:
            return None
        origin = origin.strip().lower()
        if self.patterns:
            if any(fnmatchcase(origin, pattern.lower()) for pattern in self.patterns):
                return None
        elif origin in self._cluster_origins() or (
            host is not None and origin == origin_of(f"{'https' if secure else 'http'}://{host}")
        ):
            return None
        return Refusal(403, f"origin {origin} may not open IRC over WebSocket here")
