"""A real terminal IRC client from Debian (irssi), on a pseudo-terminal, chats with us."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, wait_for
from tests.integration.terminal import start_irssi


def test_irssi_joins_a_channel_and_exchanges_messages(single_node: Node, tmp_path: Path) -> None:
    if shutil.which("irssi") is None:
        pytest.skip("irssi is not installed (.ci/run installs it with apt)")
    bob = IRCClient(single_node.irc_port, "bob")
    irssi = start_irssi(tmp_path / "irssi-home", single_node.irc_port)
    try:
        bob.send("JOIN #debian")
        bob.expect(" 366 ")

        def irssi_registered() -> bool:
            bob.send("ISON irssiuser")
            return "irssiuser" in bob.expect(" 303 ").split(" 303 ", 1)[1]

        wait_for(irssi_registered, 20, "irssi to register", interval=0.3)
        irssi.type("/join #debian")
        bob.expect(":irssiuser!")
        irssi.type("hello from irssi")
        assert bob.expect("PRIVMSG #debian").endswith(":hello from irssi")
        bob.send("PRIVMSG #debian :welcome back, irssi")
        wait_for(lambda: b"welcome back, irssi" in irssi.screen, 10, "irssi to show the reply")
        bob.send("PRIVMSG irssiuser :a private word")
        irssi.type("/query bob")  # irssi opens the query in a background window
        wait_for(lambda: b"a private word" in irssi.screen, 10, "irssi to show the query")
    finally:
        irssi.stop()
        bob.close()
