"""``GET /status``: what a node knows about itself and its cluster, as JSON; ``GET
/metrics`` for Prometheus; ``GET /dashboard``, a page that shows the cluster live; and,
with a token configured, ``POST /admin/<drain|transfer|remove>?node=<id>`` for operators'
tools.

The endpoint can be bound to TLS like any Twisted endpoint (``--status ssl:...``). With a
token (``--status-token-file``) every request must carry ``Authorization: Bearer
<token>``, but the dashboard's own files (HTML, script, style: no data) so a browser can
load the page that asks for the token; without one the admin requests are refused and
``/status`` and ``/metrics`` stay open, as before (it listens on 127.0.0.1 by default).

The dashboard served by one member reads the other members' ``/status`` too: a
cross-origin request, which the browser allows only when the answer names its origin.
``/status`` names it only for the origins of the members' own status sites, so no other
web page a browser shows can read a node's status.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

ADMIN_VERBS = ("drain", "transfer", "remove")
#: An admin request: (verb, node) -> None when accepted, else why not.
Administer = Callable[[str, str], str | None]
#: The dashboard's files, by path, with their content types; public (no data in them).
DASHBOARD_FILES = {
    b"/dashboard": ("index.html", b"text/html; charset=utf-8"),
    b"/dashboard/": ("index.html", b"text/html; charset=utf-8"),
    b"/dashboard/dashboard.js": ("dashboard.js", b"text/javascript; charset=utf-8"),
    b"/dashboard/dashboard.css": ("dashboard.css", b"text/css; charset=utf-8"),
}
STATUS_PATHS = (b"/status", b"/status/")
METRICS_PATHS = (b"/metrics", b"/metrics/")


def _dashboard_file(name: str) -> bytes:
    return resources.files("twistedchat.node").joinpath("dashboard", name).read_bytes()


class StatusResource(Resource):
    """Serves the document ``describe()`` builds and the admin requests; else 404."""

    isLeaf = True

    def __init__(
        self,
        describe: Callable[[], dict[str, Any]],
        token: str | None = None,
        administer: Administer | None = None,
        metrics: Callable[[], bytes] | None = None,
        origins: Callable[[], set[str]] = set,
    ):
        """``metrics`` gives the Prometheus text; ``origins`` the web origins allowed to
        read ``/status`` from a browser (the members' status sites, for the dashboard)."""
        super().__init__()
        self._describe = describe
        self._token = token
        self._administer = administer
        self._metrics = metrics
        self._origins = origins
        self._files = {name: _dashboard_file(name) for name, _ in DASHBOARD_FILES.values()}

    def render_GET(self, request: Request) -> bytes:
        if request.path in DASHBOARD_FILES:
            return self._dashboard(request)
        if request.path in STATUS_PATHS:
            self._allow_origin(request)
        if not self._authorized(request):
            return _json(request, 401, {"error": "missing or wrong bearer token"})
        request.setHeader(b"cache-control", b"no-store")
        if request.path in STATUS_PATHS:
            return _json(request, 200, self._describe())
        if request.path in METRICS_PATHS and self._metrics is not None:
            request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
            return self._metrics()
        return _json(request, 404, {"error": "not found; try GET /status, /metrics, /dashboard"})

    def render_OPTIONS(self, request: Request) -> bytes:
        """A browser asks (CORS preflight) whether a dashboard may send its token to
        ``/status``: yes for the members' status sites, no for anyone else."""
        if request.path not in STATUS_PATHS or not self._allow_origin(request):
            return _json(request, 403, {"error": "cross-origin requests are for the dashboard"})
        request.setResponseCode(204)
        request.setHeader(b"access-control-allow-methods", b"GET")
        request.setHeader(b"access-control-allow-headers", b"authorization")
        request.setHeader(b"access-control-max-age", b"600")
        return b""

    def _allow_origin(self, request: Request) -> bool:
        """Name the request's origin in the answer if it is a member's status site."""
        request.setHeader(b"vary", b"origin")
        origin = request.getHeader(b"origin")
        if origin is None:
            return False
        origin_text = origin.decode(errors="replace") if isinstance(origin, bytes) else origin
        if origin_text not in self._origins():
            return False
        request.setHeader(b"access-control-allow-origin", origin_text.encode())
        return True

    def _dashboard(self, request: Request) -> bytes:
        name, content_type = DASHBOARD_FILES[request.path]
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"cache-control", b"no-cache")
        if name == "index.html":  # scripts from here only; data from the members only
            others = " ".join(sorted(self._origins()))
            request.setHeader(
                b"content-security-policy",
                f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                f"connect-src 'self' {others}; frame-ancestors 'none'; base-uri 'none'".encode(),
            )
        return self._files[name]

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
    *,
    metrics: Callable[[], bytes] | None = None,
    origins: Callable[[], set[str]] = set,
) -> Site:
    site = Site(StatusResource(describe, token, administer, metrics, origins))
    site.displayTracebacks = False
    site.noisy = False
    return site
