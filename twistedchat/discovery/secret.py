"""The cluster secret that authenticates discovery datagrams."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_SECRET_BYTES = 16


def load_or_create_secret(path: Path, create: bool) -> tuple[bytes, bool]:
    """Read the secret at ``path``; make a new one if allowed. Returns (secret, created).

    The file holds hex (as we write it) or any text of at least 16 bytes. A new secret is
    written with mode 0600 through a temporary file, so a crash never leaves half a secret.
    """
    if path.exists():
        text = path.read_text(errors="strict").strip()
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = text.encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"{path}: a cluster secret needs at least {MIN_SECRET_BYTES} bytes")
        return secret, False
    if not create:
        raise FileNotFoundError(f"{path}: no cluster secret (copy it from a running node)")
    secret = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(path)
    return secret, True
