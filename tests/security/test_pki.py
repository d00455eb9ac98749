"""The cluster CA, node certificates, their files, and the ``chatnode ca`` command."""

from __future__ import annotations

import datetime
import ipaddress
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from twistedchat.security import cli, pki
from twistedchat.security.identity import (
    IdentityError,
    IdentityMismatch,
    parse_node_id,
    verify_node_certificate,
)


def sans(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- node ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_id", "host", "is_ip"),
    [
        ("127.0.0.1:7667", "127.0.0.1", True),
        ("[::1]:7667", "::1", True),
        ("node-1.example.org:7667", "node-1.example.org", False),
        ("LocalHost:1", "localhost", False),
    ],
)
def test_node_ids_split_into_host_and_port(node_id: str, host: str, is_ip: bool) -> None:
    node = parse_node_id(node_id)
    assert (node.text, node.host, node.is_ip) == (node_id, host, is_ip)


@pytest.mark.parametrize(
    "node_id",
    ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:7667", "[zz::1]:7", "999.1.1.1:7",
     "bad_host:7", "-x.example:7", "a b:7", ":7667", "host:port"],
)  # fmt: skip
def test_bad_node_ids_are_refused_with_one_line(node_id: str) -> None:
    with pytest.raises(IdentityError) as raised:
        parse_node_id(node_id)
    assert "\n" not in str(raised.value) and node_id in str(raised.value)


# -- issuing ---------------------------------------------------------------------------------


def test_ca_init_writes_a_signing_only_ca_with_a_private_key(tmp_path: Path) -> None:
    directory = pki.init_ca(tmp_path, days=30, name="test CA")
    assert directory == tmp_path / "ca"
    assert mode(directory / "ca.key") == 0o600
    assert mode(directory) == 0o700
    ca = load(directory / "ca.pem")
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and not usage.digital_signature
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert datetime.timedelta(days=30) <= lifetime <= datetime.timedelta(days=30, minutes=6)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    with pytest.raises(pki.PKIError, match="already holds a CA"):
        pki.init_ca(tmp_path)


@pytest.mark.parametrize(
    ("node_id", "expected"),
    [
        ("127.0.0.1:7667", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        ("[::1]:7668", x509.IPAddress(ipaddress.ip_address("::1"))),
        ("chat-1.example.org:7667", x509.DNSName("chat-1.example.org")),
    ],
)
def test_issue_puts_the_host_in_the_san_and_the_node_id_in_the_cn(
    tmp_path: Path, node_id: str, expected: x509.GeneralName
) -> None:
    pki.init_ca(tmp_path)
    out = pki.issue_node(tmp_path, node_id, days=10)
    assert out == tmp_path / "tls"
    assert sorted(p.name for p in out.iterdir()) == ["ca.pem", "node.key", "node.pem"]
    assert mode(out / "node.key") == 0o600
    cert, ca = load(out / "node.pem"), load(out / "ca.pem")
    assert list(sans(cert)) == [expected]
    assert cert.subject.rfc4514_string() == f"CN={node_id}"
    cert.verify_directly_issued_by(ca)
    assert ca == load(tmp_path / "ca" / "ca.pem")
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {u.dotted_string for u in usages} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= datetime.timedelta(
        days=10, minutes=6
    )
    files = pki.load_node_files(out, node_id)
    assert files.cert == cert
    verify_node_certificate(cert, node_id)


def test_identity_needs_both_host_and_port(tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    cert = load(pki.issue_node(tmp_path, "127.0.0.1:7667") / "node.pem")
    verify_node_certificate(cert, "127.0.0.1:7667")
    for other in ("127.0.0.1:7668", "127.0.0.2:7667", "localhost:7667", "nonsense"):
        with pytest.raises(IdentityMismatch):
            verify_node_certificate(cert, other)


def test_issue_refuses_to_overwrite_without_force_and_needs_a_ca(tmp_path: Path) -> None:
    with pytest.raises(pki.PKIError, match="no CA in"):
        pki.issue_node(tmp_path, "127.0.0.1:7667")
    pki.init_ca(tmp_path)
    out = pki.issue_node(tmp_path, "127.0.0.1:7667", tmp_path / "n1")
    first = (out / "node.pem").read_bytes()
    with pytest.raises(pki.PKIError, match="--force"):
        pki.issue_node(tmp_path, "127.0.0.1:7667", out)
    pki.issue_node(tmp_path, "127.0.0.1:7667", out, force=True)
    assert (out / "node.pem").read_bytes() != first
    with pytest.raises(pki.PKIError, match="HOST:PORT"):
        pki.issue_node(tmp_path, "no-port", tmp_path / "n2")
    with pytest.raises(pki.PKIError, match="positive"):
        pki.issue_node(tmp_path, "127.0.0.1:1", tmp_path / "n3", days=0)


def test_node_certificates_never_outlive_the_ca(tmp_path: Path) -> None:
    pki.init_ca(tmp_path, days=2)
    cert = load(pki.issue_node(tmp_path, "127.0.0.1:7667", days=400) / "node.pem")
    assert cert.not_valid_after_utc == load(tmp_path / "ca" / "ca.pem").not_valid_after_utc


# -- loading ---------------------------------------------------------------------------------


def test_loading_checks_files_key_ca_identity_and_validity(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    pki.init_ca(ours)
    pki.init_ca(theirs)
    good = pki.issue_node(ours, "127.0.0.1:7667", ours / "good")
    with pytest.raises(pki.PKIError, match=re.escape("missing node.pem, node.key, ca.pem")):
        pki.load_node_files(tmp_path / "empty", "127.0.0.1:7667")
    with pytest.raises(pki.PKIError, match=re.escape("does not fit this node's id 127.0.0.1:7668")):
        pki.load_node_files(good, "127.0.0.1:7668")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5000)
    with pytest.raises(pki.PKIError, match="expired"):
        pki.load_node_files(good, "127.0.0.1:7667", now=later)

    foreign = pki.issue_node(theirs, "127.0.0.1:7667", theirs / "node")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("node.pem", "node.key"):
        (mixed / name).write_bytes((foreign / name).read_bytes())
    (mixed / "ca.pem").write_bytes((good / "ca.pem").read_bytes())
    with pytest.raises(pki.PKIError, match="was not issued by the CA"):
        pki.load_node_files(mixed, "127.0.0.1:7667")

    (mixed / "node.pem").write_bytes((good / "node.pem").read_bytes())  # key is foreign's
    with pytest.raises(pki.PKIError, match="is not the key of"):
        pki.load_node_files(mixed, "127.0.0.1:7667")
    (mixed / "node.key").write_text("not a key")
    with pytest.raises(pki.PKIError, match="not a PEM private key"):
        pki.load_node_files(mixed, "127.0.0.1:7667")


def test_ensure_node_files_creates_once_and_reissues_what_no_longer_fits(tmp_path: Path) -> None:
    tls = tmp_path / "node1" / "tls"
    assert pki.ensure_node_files(tmp_path, "127.0.0.1:7667", tls)
    assert not pki.ensure_node_files(tmp_path, "127.0.0.1:7667", tls)
    assert pki.ensure_node_files(tmp_path, "127.0.0.1:9999", tls)  # the port moved
    pki.load_node_files(tls, "127.0.0.1:9999")


# -- the command line --------------------------------------------------------------------------


def test_cli_init_and_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ca", "init", "--data-dir", str(tmp_path), "--days", "100"]) == 0
    assert (tmp_path / "ca" / "ca.key").exists()
    out = tmp_path / "n2" / "tls"
    assert cli.main(["ca", "issue", "10.0.0.2:7667", "--data-dir", str(tmp_path),
                     "--out", str(out), "--days", "7"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"--data-dir {out.parent}" in printed and "10.0.0.2:7667" in printed
    cert = load(out / "node.pem")
    assert list(sans(cert)) == [x509.IPAddress(ipaddress.ip_address("10.0.0.2"))]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["ca", "issue", "10.0.0.2"], 1, "HOST:PORT"),
        (["ca", "issue", "10.0.0.2:7667"], 1, "no CA in"),
        (["ca", "init", "--days", "soon"], 2, "not a number of days"),
        (["ca", "issue", "10.0.0.2:7667", "--days", "-1"], 2, "positive"),
        (["ca", "revoke"], 2, "invalid choice"),
        ([], 2, "required"),
    ],
)
def test_cli_errors_are_one_line_and_fail(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    if argv[:2] in (["ca", "issue"], ["ca", "init"]):
        argv = [*argv, "--data-dir", str(tmp_path / "data")]
    try:
        result = cli.main(argv)
    except SystemExit as exit_:
        result = exit_.code  # type: ignore[assignment]
    assert result == code
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and error.startswith("chatnode")
