"""A real terminal IRC client from Debian (irssi), on a pseudo-terminal, chats with us."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, Node, wait_for

IRSSI_CONFIG = """
settings = {
  core = { real_name = "Irssi Tester"; user_name = "irssitest"; nick = "irssiuser"; };
  "fe-common/core" = { autocreate_windows = "yes"; };
};
"""


class Terminal:
    """irssi running on a pty; everything it draws is collected in ``screen``."""

    def __init__(self, argv: list[str], home: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child
            env = {"TERM": "xterm", "HOME": str(home), "PATH": os.environ.get("PATH", "")}
            os.execvpe(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.screen = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.screen += chunk

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\r")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.type("/quit")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_irssi_joins_a_channel_and_exchanges_messages(single_node: Node, tmp_path: Path) -> None:
    if shutil.which("irssi") is None:
        pytest.skip("irssi is not installed (.ci/run installs it with apt)")
    home = tmp_path / "irssi-home"
    home.mkdir()
    (home / "config").write_text(IRSSI_CONFIG)
    bob = IRCClient(single_node.irc_port, "bob")
    irssi = Terminal(
        ["irssi", "--home", str(home), "-c", "127.0.0.1", "-p", str(single_node.irc_port),
         "-n", "irssiuser"],
        home,
    )  # fmt: skip
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
