"""``GET /status``: what a node knows about itself and its cluster, as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class StatusResource(Resource):
    """Serves the document ``describe()`` builds; everything else is 404."""

    isLeaf = True

    def __init__(self, describe: Callable[[], dict[str, Any]]):
        super().__init__()
        self._describe = describe

    def render_GET(self, request: Request) -> bytes:
        if request.path not in (b"/status", b"/status/"):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"application/json")
            return b'{"error": "not found; try GET /status"}\n'
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(self._describe(), indent=2, sort_keys=True).encode() + b"\n"


def status_site(describe: Callable[[], dict[str, Any]]) -> Site:
    site = Site(StatusResource(describe))
    site.displayTracebacks = False
    site.noisy = False
    return site
