"""``twistd chatgateway`` options: one node's address is enough, no secret needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python import usage

from twistedchat.gateway.options import ChatGatewayOptions


def test_join_needs_no_secret(tmp_path: Path) -> None:
    options = ChatGatewayOptions()
    options.parseOptions(["--join", "127.0.0.1:6667", "--secret-file", str(tmp_path / "none")])
    assert options["join"] == ["127.0.0.1:6667"] and options["secret"] == b""


def test_without_join_the_secret_is_required_and_join_suggested(tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="--join"):
        ChatGatewayOptions().parseOptions(["--secret-file", str(tmp_path / "none")])


def test_join_must_be_an_address() -> None:
    with pytest.raises(usage.UsageError, match="HOST:PORT"):
        ChatGatewayOptions().parseOptions(["--join", "nowhere"])
