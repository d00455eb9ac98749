"""irssi, Debian's terminal IRC client, on a pseudo-terminal for tests to type into."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import termios
import threading
import time
from pathlib import Path

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


def start_irssi(home: Path, port: int, nick: str = "irssiuser") -> Terminal:
    """irssi with a fresh home, connecting to 127.0.0.1:``port`` as ``nick``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config").write_text(IRSSI_CONFIG)
    argv = ["irssi", "--home", str(home), "-c", "127.0.0.1", "-p", str(port), "-n", nick]
    return Terminal(argv, home)
