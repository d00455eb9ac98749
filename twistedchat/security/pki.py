"""The cluster CA and node certificates: creating them, and the files they live in.

Layout (``chatnode ca init`` / ``chatnode ca issue`` write it, the node reads it)::

    DATA-DIR/ca/ca.key      the CA's private key (0600; keep it off the nodes if you can)
    DATA-DIR/ca/ca.pem      the CA certificate
    TLS-DIR/node.key        a node's private key (0600)
    TLS-DIR/node.pem        its certificate, for its node id, signed by the CA
    TLS-DIR/ca.pem          a copy of the CA certificate: the only issuer the node trusts

where TLS-DIR is the node's ``--peer-tls-dir`` (default ``DATA-DIR/tls``). Keys are EC
P-256. Everything here is synchronous and Twisted-free; errors are :class:`PKIError`
with a one-line message for the command line.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU
from cryptography.x509.oid import NameOID

from twistedchat.security.identity import (
    IdentityError,
    IdentityMismatch,
    parse_node_id,
    subject_alt_names,
    verify_node_certificate,
)

CA_DIR = "ca"
CA_KEY = "ca.key"
CA_CERT = "ca.pem"
NODE_KEY = "node.key"
NODE_CERT = "node.pem"
NODE_CA = "ca.pem"
NODE_FILES = (NODE_CERT, NODE_KEY, NODE_CA)
TLS_DIR = "tls"

DEFAULT_CA_DAYS = 3650
DEFAULT_NODE_DAYS = 825
DEFAULT_CA_NAME = "twistedchat cluster CA"
#: Certificates start this long before "now", so a peer whose clock is a little behind
#: does not see them as not yet valid.
CLOCK_SKEW = datetime.timedelta(minutes=5)


class PKIError(Exception):
    """Bad input or files; the message is one line, fit for the command line."""


@dataclass(frozen=True)
class Authority:
    """A CA: its key and its self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class NodeFiles:
    """What a node loads from its TLS directory, checked."""

    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes
    cert: x509.Certificate
    ca_cert: x509.Certificate


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _check_days(days: int) -> None:
    if days <= 0:
        raise PKIError(f"validity must be a positive number of days, not {days}")


# -- creating ------------------------------------------------------------------------------


def _key_usage(*allowed: str) -> x509.KeyUsage:
    flags = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )  # fmt: skip
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


def new_authority(
    name: str = DEFAULT_CA_NAME, days: int = DEFAULT_CA_DAYS, now: datetime.datetime | None = None
) -> Authority:
    """A fresh CA key and self-signed certificate that may sign node certificates only."""
    _check_days(days)
    if not name.strip():
        raise PKIError("the CA needs a non-empty name")
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def issue_node_certificate(
    ca: Authority, node_id: str, days: int = DEFAULT_NODE_DAYS, now: datetime.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and a certificate for ``node_id``, usable as TLS server and client."""
    _check_days(days)
    try:
        node = parse_node_id(node_id)
    except IdentityError as error:
        raise PKIError(str(error)) from None
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    not_after = min(now + datetime.timedelta(days=days), ca.cert.not_valid_after_utc)
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node.text)]))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(subject_alt_names(node)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature"), critical=True)
        .add_extension(  # both ends of a peer link present it: listener and dialler
            x509.ExtendedKeyUsage([EKU.SERVER_AUTH, EKU.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return key, cert


# -- files ---------------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file with ``mode`` from the start, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask; be exact
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _make_dir(path: Path, mode: int = 0o700) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as error:
        raise PKIError(f"cannot create {path}: {error.strerror}") from None
    if not path.is_dir():
        raise PKIError(f"{path} is not a directory")


def ca_dir(data_dir: Path) -> Path:
    return Path(data_dir) / CA_DIR


def init_ca(data_dir: Path, *, days: int = DEFAULT_CA_DAYS, name: str = DEFAULT_CA_NAME) -> Path:
    """Create the cluster CA in ``DATA-DIR/ca/``; refuses to replace an existing one."""
    directory = ca_dir(data_dir)
    if (directory / CA_KEY).exists() or (directory / CA_CERT).exists():
        raise PKIError(
            f"{directory} already holds a CA; every node certificate depends on it, so remove "
            "it yourself if you really want a new one"
        )
    authority = new_authority(name, days)
    _make_dir(directory)
    try:
        _write(directory / CA_KEY, _key_pem(authority.key), 0o600)
        _write(directory / CA_CERT, _cert_pem(authority.cert), 0o644)
    except OSError as error:
        raise PKIError(f"cannot write the CA to {directory}: {error.strerror}") from None
    return directory


def load_authority(data_dir: Path) -> Authority:
    directory = ca_dir(data_dir)
    key_path, cert_path = directory / CA_KEY, directory / CA_CERT
    if not key_path.exists() or not cert_path.exists():
        raise PKIError(
            f"no CA in {directory} (create one with: chatnode ca init --data-dir {data_dir})"
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise PKIError(f"cannot read the CA in {directory}: {_one_line(error)}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_key(key, cert):
        raise PKIError(f"{key_path} is not the key of {cert_path}")
    return Authority(key, cert)


def issue_node(
    data_dir: Path,
    node_id: str,
    out: Path | None = None,
    *,
    days: int = DEFAULT_NODE_DAYS,
    force: bool = False,
) -> Path:
    """Issue a certificate for ``node_id`` with the CA of ``data_dir`` into ``out``.

    ``out`` defaults to ``DATA-DIR/tls``, where a node started with ``--data-dir DATA-DIR``
    looks. Existing node files are replaced only with ``force``.
    """
    try:
        parse_node_id(node_id)
    except IdentityError as error:
        raise PKIError(str(error)) from None
    _check_days(days)
    authority = load_authority(data_dir)
    out = Path(out) if out is not None else Path(data_dir) / TLS_DIR
    existing = [name for name in NODE_FILES if (out / name).exists()]
    if existing and not force:
        raise PKIError(f"{out} already holds {', '.join(existing)} (use --force to replace)")
    key, cert = issue_node_certificate(authority, node_id, days)
    _make_dir(out)
    try:
        _write(out / NODE_KEY, _key_pem(key), 0o600)
        _write(out / NODE_CERT, _cert_pem(cert), 0o644)
        _write(out / NODE_CA, _cert_pem(authority.cert), 0o644)
    except OSError as error:
        raise PKIError(f"cannot write to {out}: {error.strerror}") from None
    return out


def node_files_present(tls_dir: Path) -> list[str]:
    """Which of node.pem, node.key and ca.pem exist in ``tls_dir``."""
    return [name for name in NODE_FILES if (Path(tls_dir) / name).exists()]


def load_node_files(tls_dir: Path, node_id: str, now: datetime.datetime | None = None) -> NodeFiles:
    """Read and check a node's TLS directory: the key fits the certificate, which the CA
    signed, which is valid now, and which is the one of ``node_id``."""
    tls_dir = Path(tls_dir)
    missing = [name for name in NODE_FILES if not (tls_dir / name).is_file()]
    if missing:
        raise PKIError(f"{tls_dir}: missing {', '.join(missing)}")
    try:
        key_pem, cert_pem, ca_pem = ((tls_dir / name).read_bytes() for name in
                                     (NODE_KEY, NODE_CERT, NODE_CA))  # fmt: skip
    except OSError as error:
        raise PKIError(f"cannot read {error.filename}: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise PKIError(
            f"{tls_dir / NODE_KEY}: not a PEM private key ({_one_line(error)})"
        ) from None
    cert = _load_cert(tls_dir / NODE_CERT, cert_pem)
    ca_cert = _load_cert(tls_dir / NODE_CA, ca_pem)
    if not _same_key(key, cert):
        raise PKIError(f"{tls_dir / NODE_KEY} is not the key of {tls_dir / NODE_CERT}")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise PKIError(
            f"{tls_dir / NODE_CERT} was not issued by the CA in {tls_dir / NODE_CA}"
        ) from None
    now = now or _now()
    for path, checked in ((tls_dir / NODE_CERT, cert), (tls_dir / NODE_CA, ca_cert)):
        if now < checked.not_valid_before_utc:
            raise PKIError(
                f"{path} is not valid before {checked.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            )
        if now > checked.not_valid_after_utc:
            raise PKIError(f"{path} expired on {checked.not_valid_after_utc:%Y-%m-%d} UTC")
    try:
        verify_node_certificate(cert, node_id)
    except IdentityMismatch as error:
        raise PKIError(
            f"{tls_dir / NODE_CERT} does not fit this node's id {node_id}: {error}"
        ) from None
    return NodeFiles(key_pem, cert_pem, ca_pem, cert, ca_cert)


def _load_cert(path: Path, pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as error:
        raise PKIError(f"{path}: not a PEM certificate ({_one_line(error)})") from None


def _same_key(key: object, cert: x509.Certificate) -> bool:
    public = getattr(key, "public_key", None)
    if public is None:
        return False
    encoding, fmt = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    mine: bytes = public().public_bytes(encoding, fmt)
    return mine == cert.public_key().public_bytes(encoding, fmt)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def ensure_node_files(
    data_root: Path, node_id: str, tls_dir: Path, *, days: int = DEFAULT_NODE_DAYS
) -> bool:
    """For development clusters: a CA in ``data_root/ca`` (created on first use) and a
    valid certificate for ``node_id`` in ``tls_dir`` (issued again when missing, stale or
    from another CA). Returns whether anything was written."""
    wrote = False
    if not (ca_dir(data_root) / CA_KEY).exists():
        init_ca(data_root)
        wrote = True
    authority = load_authority(data_root)
    try:
        files = load_node_files(tls_dir, node_id)
    except PKIError:
        files = None
    if files is not None and files.ca_cert == authority.cert:
        return wrote
    issue_node(data_root, node_id, tls_dir, days=days, force=True)
    return True
