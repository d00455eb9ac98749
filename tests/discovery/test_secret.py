"""The cluster secret file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from twistedchat.discovery.secret import load_or_create_secret


def test_created_once_then_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "data" / "cluster.secret"
    secret, created = load_or_create_secret(path, create=True)
    assert created and len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path, create=True) == (secret, False)


def test_missing_without_create_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cluster secret"):
        load_or_create_secret(tmp_path / "none", create=False)


def test_short_secret_is_refused_and_text_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("short\n")
    with pytest.raises(ValueError, match="at least 16"):
        load_or_create_secret(path, create=False)
    path.write_text("correct horse battery staple\n")
    assert load_or_create_secret(path, create=False)[0] == b"correct horse battery staple"
