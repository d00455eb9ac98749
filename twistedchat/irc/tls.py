"""IRC over TLS whose certificate can be replaced without a restart.

An ``ssl:`` endpoint string reads its key and certificate once. For IRC, the node builds
the endpoint itself with a context factory that re-reads the files on :meth:`reload`
(SIGHUP): connections made afterwards get the new certificate, open ones keep theirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.ssl import PrivateCertificate


class ReloadableServerContext:
    """An old-style context factory (``getContext``) for a key and certificate on disk."""

    def __init__(self, key_path: str, cert_path: str) -> None:
        self.key_path = key_path
        self.cert_path = cert_path
        self._context = self._load()

    def _load(self) -> SSL.Context:
        pem = Path(self.cert_path).read_bytes() + b"\n" + Path(self.key_path).read_bytes()
        options = PrivateCertificate.loadPEM(pem).options()
        context: SSL.Context = options.getContext()
        return context

    def reload(self) -> None:
        """Read the files again; a broken pair raises and the old certificate stays."""
        self._context = self._load()

    def getContext(self) -> SSL.Context:
        return self._context


def tls_endpoint(
    reactor: Any, description: str
) -> tuple[SSL4ServerEndpoint, ReloadableServerContext] | None:
    """For ``ssl:PORT:privateKey=K:certKey=C[:interface=I]``, a reloadable endpoint; None for
    any other description (the caller uses ``serverFromString`` for those)."""
    kind, _, rest = description.partition(":")
    if kind != "ssl":
        return None
    parts = rest.split(":")
    options = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
    port = parts[0] if "=" not in parts[0] else options.pop("port", "")
    if not port.isdigit() or "privateKey" not in options:
        return None
    context = ReloadableServerContext(
        options["privateKey"], options.get("certKey", options["privateKey"])
    )
    endpoint = SSL4ServerEndpoint(
        reactor, int(port), context, interface=options.get("interface", "")
    )
    return endpoint, context
