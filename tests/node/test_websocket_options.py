"""``--websocket`` and the URL it is published at: a node must not start with a web
endpoint browsers could not be sent to."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python.usage import UsageError

from twistedchat.node.options import ChatNodeOptions


def parsed(tmp_path: Path, *args: str) -> ChatNodeOptions:
    options = ChatNodeOptions()
    options.parseOptions(["--insecure-peers", "--data-dir", str(tmp_path), *args])
    return options


def test_a_tcp_endpoints_url_is_derived_and_others_need_one(tmp_path: Path) -> None:
    options = parsed(tmp_path, "--websocket", "tcp:8080:interface=127.0.0.1")
    assert options["websocket-url"] is None  # the node derives ws://127.0.0.1:8080/
    with pytest.raises(UsageError, match="give --websocket-url"):
        parsed(tmp_path, "--websocket", f"unix:{tmp_path}/web.sock")
    behind = parsed(tmp_path, "--websocket", f"unix:{tmp_path}/web.sock",
                    "--websocket-url", "wss://chat.example.org/")  # fmt: skip
    assert behind["websocket-url"] == "wss://chat.example.org/"


@pytest.mark.parametrize(
    "url", ["http://chat.example.org/", "wss://", "ws://host:99999/", "ws://[::1/", "chat"]
)
def test_a_websocket_url_a_browser_cannot_use_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(UsageError, match="--websocket-url"):
        parsed(tmp_path, "--websocket", "tcp:8080:interface=127.0.0.1", "--websocket-url", url)


def test_an_empty_origin_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--websocket-origin"):
        parsed(tmp_path, "--websocket-origin", " ")
