"""IRC over TLS needs no code of ours: an ``ssl:`` endpoint string on ``--irc`` is enough."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.harness import Node, free_ports, new_node, wait_for


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def test_a_client_registers_over_tls(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    (tls_port,) = free_ports(1)
    node: Node = new_node(
        tmp_path,
        "tls",
        [
            "--irc", f"ssl:{tls_port}:privateKey={key}:certKey={cert}:interface=127.0.0.1",
        ],
    )  # fmt: skip
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        context = ssl.create_default_context(cafile=str(cert))
        with (
            socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"NICK secure\r\nUSER secure 0 * :Secure\r\n")
            received = b""
            while b" 001 " not in received:
                chunk = tls.recv(4096)
                assert chunk, f"closed early: {received!r}"
                received += chunk
            assert b"secure" in received
    finally:
        node.stop()
