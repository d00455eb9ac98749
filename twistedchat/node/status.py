"""``GET /status``: what a node knows about itself and its cluster, as JSON; and, with a
token configured, ``POST /admin/<drain|transfer|remove>?node=<id>`` for operators' tools.

The endpoint can be bound to TLS like any Twisted endpoint (``--status ssl:...``). With a
token (``--status-token-file``) every request must carry ``Authorization: Bearer
<token>``; without one the admin requests are refused and ``/status`` stays open, as
before (it listens on 127.0.0.1 by default).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request, Site

ADMIN_VERBS = ("drain", "transfer", "remove")
#: An admin request: (verb, node) -> None when accepted, else why not.
Administer = Callable[[str, str], str | None]


class StatusResource(Resource):
    """Serves the document ``describe()`` builds and the admin requests; else 404."""

    isLeaf = True

    def __init__(
        self,
        describe: Callable[[], dict[str, Any]],
        token: str | None = None,
        administer: Administer | None = None,
    ):
        super().__init__()
        self._describe = describe
        self._token = token
        self._administer = administer

    def render_GET(self, request: Request) -> bytes:
        if not self._authorized(request):
            return _json(request, 401, {"error": "missing or wrong bearer token"})
        if request.path not in (b"/status", b"/status/"):
            return _json(request, 404, {"error": "not found; try GET /status"})
        request.setHeader(b"cache-control", b"no-store")
        return _json(request, 200, self._describe())

    def render_POST(self, request: Request) -> bytes:
        if self._token is None or self._administer is None:
            return _json(request, 403, {"error": "admin requests need --status-token-file"})
        if not self._authorized(request):
            return _json(request, 401, {"error": "missing or wrong bearer token"})
        verb = request.path.decode(errors="replace").removeprefix("/admin/")
        node = (request.args or {}).get(b"node", [b""])[0].decode(errors="replace")
        if verb not in ADMIN_VERBS or not node:
            return _json(request, 400, {"error": "POST /admin/<drain|transfer|remove>?node=ID"})
        refused = self._administer(verb.upper(), node)
        if refused is not None:
            return _json(request, 400, {"error": refused})
        return _json(request, 202, {"requested": verb, "node": node})

    def _authorized(self, request: Request) -> bool:
        if self._token is None:
            return True
        given = request.getHeader(b"authorization") or b""
        given_bytes = given if isinstance(given, bytes) else given.encode()
        return hmac.compare_digest(given_bytes, f"Bearer {self._token}".encode())


def _json(request: Request, code: int, document: dict[str, Any]) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


def status_site(
    describe: Callable[[], dict[str, Any]],
    token: str | None = None,
    administer: Administer | None = None,
) -> Site:
    site = Site(StatusResource(describe, token, administer))
    site.displayTracebacks = False
    site.noisy = False
    return site
