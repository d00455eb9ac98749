"""A node's identity in a certificate, and the check that a certificate carries it.

A node id is ``HOST:PORT`` (the address peers dial). Its certificate names it twice:

- the HOST in ``subjectAltName``, as an IP address when it is one, else as a DNS name.
  This is the standard service identity, checked with :mod:`service_identity`;
- the whole node id as the subject's common name, compared exactly. Nodes on one host
  (every ``make run`` node is 127.0.0.1) differ only by port, which no standard
  ``subjectAltName`` type carries, so the host alone would let one node pass for another.

Everything here is pure: no files, no sockets, no clock.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)

_NODE_ID = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]+)):(?P<port>\d{1,5})$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class IdentityError(ValueError):
    """A node id that cannot be put in a certificate; the message is one line."""


class IdentityMismatch(Exception):
    """A certificate that is not the one of the node id we expected; one line."""


@dataclass(frozen=True, slots=True)
class NodeId:
    """A parsed node id: the text as peers use it, its host, and whether that is an IP."""

    text: str
    host: str
    port: int
    is_ip: bool


def parse_node_id(node_id: str) -> NodeId:
    """Check ``HOST:PORT`` (``[IPv6]:PORT`` for IPv6) and split it."""
    match = _NODE_ID.match(node_id)
    if match is None:
        raise IdentityError(f"a node id is HOST:PORT (or [IPv6]:PORT), not {node_id!r}")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise IdentityError(f"node id {node_id!r}: port must be 1-65535")
    if match["ip6"] is not None:
        try:
            address = ipaddress.IPv6Address(match["ip6"])
        except ValueError:
            raise IdentityError(f"node id {node_id!r}: not an IPv6 address in brackets") from None
        return NodeId(node_id, str(address), port, True)
    host = match["host"]
    try:
        return NodeId(node_id, str(ipaddress.IPv4Address(host)), port, True)
    except ValueError:
        pass
    if host.replace(".", "").isdigit():
        raise IdentityError(f"node id {node_id!r}: {host!r} is not a valid IPv4 address")
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise IdentityError(f"node id {node_id!r}: {host!r} is not a valid host name")
    return NodeId(node_id, host.rstrip(".").lower(), port, False)


def subject_alt_names(node: NodeId) -> list[x509.GeneralName]:
    """What goes in the certificate's ``subjectAltName`` for ``node``."""
    if node.is_ip:
        return [x509.IPAddress(ipaddress.ip_address(node.host))]
    return [x509.DNSName(node.host)]


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def verify_node_certificate(cert: x509.Certificate, node_id: str) -> None:
    """Raise :class:`IdentityMismatch` unless ``cert`` is the certificate of ``node_id``.

    Only identity is checked here; that the certificate was signed by the cluster CA (and
    is within its validity) is checked by TLS before this is called.
    """
    try:
        node = parse_node_id(node_id)
    except IdentityError as error:
        raise IdentityMismatch(str(error)) from None
    try:
        if node.is_ip:
            verify_certificate_ip_address(cert, node.host)
        else:
            verify_certificate_hostname(cert, node.host)
    except (VerificationError, CertificateError) as error:
        raise IdentityMismatch(
            f"certificate of {describe(cert)} is not valid for host {node.host} "
            f"({type(error).__name__})"
        ) from None
    if common_name(cert) != node.text:
        raise IdentityMismatch(
            f"certificate of {describe(cert)} is not the one of node {node.text}"
        )


def describe(cert: x509.Certificate) -> str:
    """A short name for a certificate in log lines: its common name, else its SANs."""
    name = common_name(cert)
    if name:
        return repr(name)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "an unnamed certificate"
    return ", ".join(str(value) for value in sans.get_values_for_type(x509.DNSName)) or "?"
