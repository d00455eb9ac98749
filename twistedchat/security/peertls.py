"""Mutual TLS for peer links, with Twisted's TLS: what the listener and the dialler use.

Both sides present the node certificate and accept only certificates the cluster CA
signed (``trustRoot`` is ``ca.pem`` alone, never the system's CAs). Then each side checks
that the certificate is the one of the node it is talking to
(:func:`~twistedchat.security.identity.verify_node_certificate`):

- the dialler knows the node id it dials, and checks during the handshake, so not one
  byte of ours reaches a peer that fails (:class:`NodeClientCreator`);
- the listener learns the node id from the peer's Hello, its first frame, and checks it
  then (:meth:`PeerTLS.inbound_mismatch`); the transport drops a link that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from OpenSSL.crypto import X509
from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import Certificate, CertificateOptions, TLSVersion
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twistedchat.security.identity import IdentityMismatch, parse_node_id, verify_node_certificate
from twistedchat.security.pki import load_node_files

log = Logger()


class PeerIdentityError(Exception):
    """The peer's certificate is from our CA but not the one of the node we expected."""


def error_text(failure: Failure) -> str:
    """One line for a failed peer link: OpenSSL's reasons, or the error message."""
    value = failure.value
    if isinstance(value, SSL.Error) and value.args and isinstance(value.args[0], list):
        reasons = [r[-1] for r in value.args[0] if isinstance(r, tuple) and r and r[-1]]
        if reasons:
            return ", ".join(str(r) for r in reasons)
    message = " ".join(failure.getErrorMessage().split())
    return message or getattr(failure.type, "__name__", "error")


@dataclass(frozen=True)
class PeerTLS:
    """This node's certificate, key and trusted CA, as TLS options for both directions."""

    node_id: str
    tls_dir: Path | None
    #: For the listener: present our certificate, require one signed by the CA.
    server_options: CertificateOptions
    #: For the dialler; shared by every outbound connection (one OpenSSL context).
    client_options: CertificateOptions

    @classmethod
    def load(cls, tls_dir: Path, node_id: str) -> PeerTLS:
        """Load and check ``tls_dir`` (see :mod:`~twistedchat.security.pki`); raises
        :class:`~twistedchat.security.pki.PKIError` with a one-line message."""
        files = load_node_files(tls_dir, node_id)
        return cls.from_pem(node_id, files.key_pem, files.cert_pem, files.ca_pem, tls_dir)

    @classmethod
    def from_pem(
        cls, node_id: str, key_pem: bytes, cert_pem: bytes, ca_pem: bytes,
        tls_dir: Path | None = None,
    ) -> PeerTLS:  # fmt: skip
        # cryptography objects, not pyOpenSSL's X509/PKey (deprecated by pyOpenSSL): the
        # OpenSSL context takes either.
        key: Any = serialization.load_pem_private_key(key_pem, password=None)
        cert: Any = x509.load_pem_x509_certificate(cert_pem)
        ca = Certificate.loadPEM(ca_pem)

        def options() -> CertificateOptions:
            return CertificateOptions(
                privateKey=key,
                certificate=cert,
                trustRoot=ca,  # verify the peer against our CA only; require its certificate
                raiseMinimumTo=TLSVersion.TLSv1_2,
            )

        return cls(node_id, tls_dir, options(), options())

    def client_creator(self, node_id: str) -> NodeClientCreator:
        """What :func:`~twisted.internet.endpoints.wrapClientTLS` needs to dial ``node_id``."""
        return NodeClientCreator(self.client_options, node_id)

    def inbound_mismatch(self, transport: Any, claimed: str) -> str | None:
        """Why the TLS peer on ``transport`` is not ``claimed`` (None if it is)."""
        handle = getattr(transport, "getHandle", None)
        connection = handle() if handle is not None else None
        if not isinstance(connection, SSL.Connection):
            return "peer link is not TLS"
        cert = connection.get_peer_certificate(as_cryptography=True)
        if cert is None:
            return f"node {claimed!r} presented no certificate"
        try:
            verify_node_certificate(cert, claimed)
        except IdentityMismatch as error:
            return f"node {claimed!r} is not who it claims: {error}"
        return None


@implementer(IOpenSSLClientConnectionCreator)
class NodeClientCreator:
    """Client side of one peer link: our certificate out, the CA and ``node_id`` checked in.

    Like :func:`twisted.internet.ssl.optionsForClientTLS`, the identity is checked in the
    verify callback of the leaf certificate, and a mismatch fails the connection with
    :class:`PeerIdentityError` before the handshake completes.
    """

    def __init__(self, options: CertificateOptions, node_id: str):
        self.options = options
        self.node_id = node_id
        node = parse_node_id(node_id)
        self._server_name = None if node.is_ip else node.host.encode("idna")

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        connection = self.options.clientConnectionForTLS(tlsProtocol)
        if self._server_name is not None:
            connection.set_tlsext_host_name(self._server_name)
        connection.set_verify(
            SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
            _identity_callback(tlsProtocol, self.node_id),
        )
        return connection


def _identity_callback(tls: TLSMemoryBIOProtocol, node_id: str) -> Any:
    protocol: TLSMemoryBIOProtocol | None = tls

    def verify(connection: SSL.Connection, cert: X509, error: int, depth: int, ok: int) -> bool:
        nonlocal protocol
        if depth != 0 or not ok:
            return bool(ok)  # the chain itself is OpenSSL's job (our CA only)
        try:
            verify_node_certificate(cert.to_cryptography(), node_id)
        except IdentityMismatch as mismatch:
            if protocol is not None:
                protocol.failVerification(Failure(PeerIdentityError(str(mismatch))))
            protocol = None
            return False
        except BaseException:  # raising inside OpenSSL's callback would lose the error
            log.failure("checking the certificate of {peer} failed", peer=node_id)
            return False
        return True

    return verify


# -- probing a node's identity ---------------------------------------------------------------


@implementer(IHandshakeListener)
class _Probe(Protocol):
    def __init__(self, done: Deferred[None]):
        self.done = done

    def handshakeCompleted(self) -> None:
        if not self.done.called:
            self.done.callback(None)
        assert self.transport is not None
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            if reason.check(ConnectionDone):
                reason = Failure(ConnectionDone("closed during the TLS handshake"))
            self.done.errback(reason)


class _ProbeFactory(Factory):
    noisy = False  # one probe per unknown node and retry: not worth two log lines each

    def __init__(self, done: Deferred[None]):
        self.done = done

    def buildProtocol(self, addr: Any) -> _Probe:
        return _Probe(self.done)


def probe(reactor: Any, tls: PeerTLS, node_id: str, timeout: float = 5.0) -> Deferred[None]:
    """Open a TLS connection to ``node_id``, check who answers, close it.

    Fires with None if the node presents a certificate of our CA for ``node_id``; fails
    otherwise (unreachable, another CA, another identity, timeout). The node sees a
    connection that sends no Hello and closes; it logs nothing.
    """
    node = parse_node_id(node_id)
    done: Deferred[None] = Deferred()
    connected: list[_Probe] = []
    endpoint = endpoints.wrapClientTLS(
        tls.client_creator(node_id),
        endpoints.HostnameEndpoint(reactor, node.host, node.port, timeout=timeout),
    )
    attempt = endpoint.connect(_ProbeFactory(done))

    def not_connected(failure: Failure) -> None:
        if not done.called:
            done.errback(failure)

    attempt.addCallbacks(connected.append, not_connected)

    def give_up() -> None:
        if done.called:
            return
        done.errback(Failure(TimeoutError(f"no TLS handshake within {timeout}s")))
        transport = connected[0].transport if connected else None
        if transport is not None:
            ITCPTransport(transport).abortConnection()  # connected, but no handshake
        else:
            attempt.cancel()

    timer = reactor.callLater(timeout, give_up)

    def finish(result: object) -> object:
        if timer.active():
            timer.cancel()
        return result

    return done.addBoth(finish)
