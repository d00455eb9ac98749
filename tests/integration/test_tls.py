"""IRC over TLS needs no code of ours: an ``ssl:`` endpoint string on ``--irc`` is enough."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.harness import Gateway, IRCClient, Node, free_ports, new_node, wait_for


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
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
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


def test_the_gateway_reaches_nodes_over_verified_tls(tmp_path: Path) -> None:
    """With --tls-ca the gateway speaks TLS to the node and checks its certificate is for
    the address it dials; a certificate from another authority is refused."""
    key, cert = self_signed(tmp_path)
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    _, stranger = self_signed(other_ca)
    (tls_port,) = free_ports(1)
    node: Node = new_node(tmp_path, "tls", [
        "--irc", f"ssl:{tls_port}:privateKey={key}:certKey={cert}:interface=127.0.0.1",
    ])  # fmt: skip
    node.start()
    trusted = Gateway(tmp_path, free_ports(1)[0], ["--join", f"127.0.0.1:{tls_port}",
                                                   "--tls-ca", str(cert)])  # fmt: skip
    wary = Gateway(tmp_path, free_ports(1)[0], ["--join", f"127.0.0.1:{tls_port}",
                                                "--tls-ca", str(stranger)])  # fmt: skip
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        trusted.start()
        wary.start()
        alice = IRCClient(trusted.port, "alice")
        alice.send("JOIN #tls")
        alice.expect(" 366 ")
        mallory = socket.create_connection(("127.0.0.1", wary.port), timeout=10)
        mallory.sendall(b"NICK mallory\r\nUSER m 0 * :M\r\n")
        mallory.settimeout(3)
        try:
            assert b" 001 " not in mallory.recv(4096)
        except TimeoutError:
            pass  # nothing at all: the gateway never got a verified node
        finally:
            mallory.close()
        assert "certificate verify failed" in wary.log_text()
    finally:
        trusted.stop()
        wary.stop()
        node.stop()


def served_certificate(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
        assert certificate is not None
        return certificate


def test_the_irc_certificate_is_reloaded_on_sighup(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    (tls_port,) = free_ports(1)
    node: Node = new_node(tmp_path, "tls", [
        "--irc", f"ssl:{tls_port}:privateKey={key}:certKey={cert}:interface=127.0.0.1",
    ])  # fmt: skip
    node.start()
    try:
        wait_for(lambda: (node.status() or {}).get("role") == "leader", 30, "the node to lead")
        before = served_certificate(tls_port)
        assert before == ssl.PEM_cert_to_DER_cert(cert.read_text())
        self_signed(tmp_path)  # a renewed pair, written over the old files
        node.signal(signal.SIGHUP)
        renewed = ssl.PEM_cert_to_DER_cert(cert.read_text())
        wait_for(lambda: served_certificate(tls_port) == renewed, 10, "the new certificate")
        assert "IRC certificate reloaded" in node.log_text()
    finally:
        node.stop()
