"""``twistd chatgateway`` command-line options."""

from __future__ import annotations

import re
from pathlib import Path

from OpenSSL.SSL import Error as SSLError
from twisted.internet import endpoints, reactor
from twisted.internet.ssl import Certificate
from twisted.python import usage

from twistedchat.discovery.secret import load_or_create_secret
from twistedchat.security.server_password import read_server_password

DEFAULT_LISTEN = "tcp:6600:interface=127.0.0.1"
_HOST_PORT = re.compile(r"^(?P<host>[^\s:]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be a positive number, not {value!r}")
    return number


class ChatGatewayOptions(usage.Options):
    """Where to listen for IRC clients, and how to find the cluster."""

    optParameters = [
        ["listen", None, DEFAULT_LISTEN, "Endpoint string IRC clients connect to."],
        ["cluster", None, "twistedchat", "Name of the cluster to find."],
        ["secret-file", None, "./chatnode-data/cluster.secret", "The cluster's secret."],
        ["discovery-port", None, 7666, "UDP port the nodes answer discovery on.", int],
        [
            "password-file",
            None,
            None,
            "File holding the nodes' server password (their --password-file), sent as PASS.",
        ],
        ["broadcast", None, "127.255.255.255", "Where discovery queries are broadcast."],
        [
            "tls-ca",
            None,
            None,
            "PEM CA certificate: connect to nodes over TLS and verify their certificates.",
        ],
        [
            "keepalive",
            None,
            5.0,
            "Seconds of silence before pinging a node; after 3 times that it is left.",
            _positive_float,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["join"] = []

    def opt_join(self, address: str) -> None:
        """HOST:PORT of a node's IRC endpoint (repeatable): instead of discovery, and of the
        cluster secret, ask it which nodes serve the cluster and which the leader assigns."""
        if not _HOST_PORT.match(address):
            raise usage.UsageError(f"--join expects HOST:PORT, not {address!r}")
        self["join"].append(address)

    def postOptions(self) -> None:
        try:
            endpoints.serverFromString(reactor, self["listen"])  # reads ssl: files too
        except (ValueError, TypeError, KeyError, OSError) as error:
            raise usage.UsageError(f"--listen: bad endpoint {self['listen']!r}: {error}") from None
        if not 0 < self["discovery-port"] < 65536:
            raise usage.UsageError("--discovery-port must be a port number (1-65535)")
        self["trust"] = None
        if self["tls-ca"] is not None:
            try:
                self["trust"] = Certificate.loadPEM(Path(self["tls-ca"]).read_bytes())
            except (OSError, ValueError, SSLError) as error:
                raise usage.UsageError(f"--tls-ca: {error}") from None
        self["password"] = None
        if self["password-file"] is not None:
            try:
                self["password"] = read_server_password(self["password-file"])
            except ValueError as error:
                raise usage.UsageError(f"--password-file: {error}") from None
        self["secret"] = b""
        if not self["join"]:  # discovery datagrams are signed with the cluster's secret
            try:
                self["secret"], _ = load_or_create_secret(Path(self["secret-file"]), create=False)
            except (OSError, ValueError) as error:
                raise usage.UsageError(
                    f"--secret-file: {error}; or give --join HOST:PORT of one node, "
                    "which needs no secret"
                ) from None
