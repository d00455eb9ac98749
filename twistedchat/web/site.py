"""The node's web endpoint (``--websocket``): one HTTP server for a browser's needs.

- a WebSocket upgrade (on any path) is IRC over WebSocket (:mod:`.handshake` decides who
  may, :mod:`.transport` carries the lines through the node's own IRC factory, with all
  its limits);
- ``GET /nodes.json`` lists the web endpoints of the cluster's serving nodes, so the web
  client can move to another when its node dies;
- any other ``GET`` is a file of the bundled web client (``twistedchat/web/client/``),
  read once at start-up.

Twisted's own ``twisted.web.websocket`` cannot do the first job: it accepts without a
subprotocol (browsers then fail the handshake of an IRCv3 client), cannot refuse by
Origin, and reassembles every message in memory however large. wsproto, which it is built
on, does the framing here; the HTTP channel hands its socket over as Twisted's does
(docs/decisions/0036).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h11
from twisted.internet.interfaces import IAddress
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from wsproto import ConnectionType
from wsproto.events import AcceptConnection
from wsproto.events import Request as UpgradeRequest
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from twistedchat.irc.admission import Admission
from twistedchat.irc.protocol import IRCFactory
from twistedchat.web.handshake import BINARY, OriginPolicy, Refusal, choose_subprotocol
from twistedchat.web.transport import WebSocketLines

log = Logger()

CLIENT_FILES = Path(__file__).parent / "client"
CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
}
#: The page may load only its own files and connect only to WebSocket endpoints and the
#: cluster's web endpoints (the nodes it fails over to, whose ``/nodes.json`` it reads);
#: nothing inline, nothing from elsewhere. ``{cluster}`` is filled in per request.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:{cluster}; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
}
#: An idle HTTP connection (before any upgrade) is closed after this many seconds.
HTTP_IDLE_TIMEOUT = 30
#: Connections the web endpoint holds beyond the node's --max-clients (page loads, and
#: browsers that keep a spare connection open).
SPARE_CONNECTIONS = 64


def client_files(directory: Path = CLIENT_FILES) -> dict[str, tuple[bytes, bytes]]:
    """The web client's files by URL path: (content type, bytes); ``/`` is index.html."""
    files: dict[str, tuple[bytes, bytes]] = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            kind = CONTENT_TYPES.get(path.suffix)
            if kind is not None and path.is_file():
                files["/" + path.name] = (kind, path.read_bytes())
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


class WebRoot(Resource):
    """Every path of the web endpoint (a leaf: it reads ``request.path`` itself)."""

    isLeaf = True

    def __init__(
        self,
        irc: IRCFactory,
        origins: OriginPolicy,
        nodes: Callable[[], dict[str, Any]],
        files: dict[str, tuple[bytes, bytes]],
    ) -> None:
        super().__init__()
        self._irc = irc
        self._origins = origins
        self._nodes = nodes
        self._files = files

    def render_GET(self, request: Request) -> bytes | int:
        upgrade = (request.getHeader(b"upgrade") or b"").lower() == b"websocket"
        if upgrade and request.method == b"GET":  # not HEAD, which twisted.web sends here
            return self._upgrade(request)
        path = request.path.decode("utf-8", "replace")
        if path == "/nodes.json":
            return self._node_list(request)
        found = self._files.get(path)
        if found is None:
            return _plain(request, 404, "not found")
        kind, body = found
        request.setHeader(b"content-type", kind)
        request.setHeader(b"cache-control", b"no-cache")
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        cluster = "".join(f" {origin}" for origin in sorted(self._origins.cluster()))
        request.setHeader(
            b"content-security-policy", CONTENT_SECURITY_POLICY.format(cluster=cluster).encode()
        )
        return body

    def _node_list(self, request: Request) -> bytes:
        """The cluster's web endpoints, readable by pages of the origins allowed to open
        IRC over WebSocket here: a web client whose own node died asks the others."""
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"vary", b"origin")
        origin = request.getHeader(b"origin")
        if origin is not None and self._origins.check(origin.decode("latin-1")) is None:
            request.setHeader(b"access-control-allow-origin", origin)
        return json.dumps(self._nodes(), sort_keys=True).encode() + b"\n"

    def _upgrade(self, request: Request) -> bytes | int:
        handshake = H11Handshake(ConnectionType.SERVER)
        headers = [
            (name, value)
            for name, values in request.requestHeaders.getAllRawHeaders()
            for value in values
        ]
        try:
            handshake.initiate_upgrade_connection(headers, request.uri)
            event = next(handshake.events())
        except (RemoteProtocolError, h11.ProtocolError, StopIteration) as error:
            # h11 re-reads the request Twisted parsed and is stricter (no Host, two Hosts)
            return _plain(request, 400, f"not a WebSocket request: {error}")
        assert isinstance(event, UpgradeRequest)
        origin = request.getHeader(b"origin")
        refused = self._origins.check(None if origin is None else origin.decode("latin-1"))
        subprotocol = choose_subprotocol(event.subprotocols) if refused is None else refused
        if isinstance(subprotocol, Refusal):
            log.info("WebSocket from {peer} refused: {why}",
                     peer=_peer_host(request), why=subprotocol.reason)  # fmt: skip
            return _plain(request, subprotocol.status, subprotocol.reason)
        accept = handshake.send(AcceptConnection(subprotocol=subprotocol))
        connection = handshake.connection
        channel = request.channel
        transport = channel.transport
        assert connection is not None and transport is not None
        irc = self._irc.buildProtocol(transport.getPeer())
        assert irc is not None
        wire = WebSocketLines(connection, irc, binary=subprotocol == BINARY)
        transport.write(accept)
        # The HTTP channel stops being the socket's producer and protocol: from here the
        # socket carries WebSocket frames, the IRC connection is its producer.
        transport.unregisterProducer()  # type: ignore[attr-defined]
        if hasattr(transport, "setTcpNoDelay"):  # a chat line should not wait for Nagle
            transport.setTcpNoDelay(True)
        channel._protocolUpgradeForWebsockets(wire)
        return NOT_DONE_YET


class ConnectionCap(WrappingFactory):
    """Bounds the web endpoint's connections, upgraded or not, per address and in all.

    The IRC connection's own limits only apply once a request is upgraded; before that
    an HTTP connection costs the node a socket, and a client that sends its request one
    byte at a time keeps it (the idle timeout restarts with every byte). So at most
    ``per_address`` connections per address (loopback exempt, as for IRC) and ``total``
    in all; a connection past either is closed at once."""

    def __init__(self, site: Site, per_address: int, total: int, exempt: Sequence[str]) -> None:
        super().__init__(site)
        self.total = total
        self.admission = Admission(per_address, burst=1, rate=0, exempt=exempt)
        self._hosts: dict[ProtocolWrapper, str] = {}

    def buildProtocol(self, addr: IAddress) -> ProtocolWrapper | None:  # type: ignore[override]
        host = str(getattr(addr, "host", ""))
        refusal = "web endpoint full" if len(self._hosts) >= self.total else None
        refusal = refusal or self.admission.admit(host, 0.0)
        if refusal is not None:
            log.info("web connection from {host} refused: {why}", host=host, why=refusal)
            return None
        wrapper = super().buildProtocol(addr)
        self._hosts[wrapper] = host
        return wrapper

    def unregisterProtocol(self, protocol: ProtocolWrapper) -> None:
        super().unregisterProtocol(protocol)
        host = self._hosts.pop(protocol, None)
        if host is not None:
            self.admission.left(host)


def web_site(
    irc: IRCFactory,
    origins: OriginPolicy,
    nodes: Callable[[], dict[str, Any]],
    files: dict[str, tuple[bytes, bytes]] | None = None,
) -> ConnectionCap:
    """The web endpoint; ``irc`` is the node's IRC factory, whose limits apply to every
    WebSocket client and bound the connections before the upgrade too."""
    root = WebRoot(irc, origins, nodes, client_files() if files is None else files)
    site = Site(root, timeout=HTTP_IDLE_TIMEOUT)
    site.displayTracebacks = False
    site.noisy = False
    settings = irc.settings
    return ConnectionCap(
        site,
        per_address=settings.max_per_address,
        total=settings.max_clients + SPARE_CONNECTIONS,
        exempt=settings.limits_exempt,
    )


def _plain(request: Request, code: int, text: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return text.encode() + b"\n"


def _peer_host(request: Request) -> str:
    return str(getattr(request.getClientAddress(), "host", "?"))
