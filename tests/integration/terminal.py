"""irssi, Debian's terminal IRC client, on a pseudo-terminal for tests to type into.

What irssi draws is collected raw in ``Terminal.screen`` (escape sequences and all). Every
line irssi prints, in any window, also goes to a plain-text log (its own ``/log`` of level
ALL, opened at start-up from the config), which :meth:`Terminal.shown` and
:meth:`Terminal.wait_shown` read: the status window's lines (WHOIS, numerics irssi does not
know, such as MONITOR's) never reach the screen while a channel window is in front.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import termios
import threading
import time
from pathlib import Path

#: ``cmd_queue_speed = "0"``: irssi's flood control would otherwise hold every command
#: after its first few for 2.2 s each, and registration alone spends those.
IRSSI_CONFIG = """
settings = {
  core = { real_name = "Irssi Tester"; user_name = "irssitest"; nick = "irssiuser"; };
  "irc/core" = { cmd_queue_speed = "0"; };
  "fe-common/core" = { autocreate_windows = "yes"; };
};
logs = { "%(log)s" = { auto_open = "yes"; level = "ALL"; }; };
"""


class Terminal:
    """irssi running on a pty; everything it draws is collected in ``screen``."""

    def __init__(self, argv: list[str], home: Path, log: Path | None = None):
        self.log = log
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

    def shown(self) -> list[str]:
        """Every line irssi printed so far, in any window, without its time stamp."""
        if self.log is None or not self.log.exists():
            return []
        lines = self.log.read_text(errors="replace").splitlines()
        return [re.sub(r"^\d\d:\d\d ", "", line) for line in lines if not line.startswith("---")]

    def wait_shown(self, needle: str, timeout: float = 10.0, after: int = 0) -> int:
        """Wait until irssi prints a line containing ``needle`` (from line ``after`` on of
        :meth:`shown`); return that line's index."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.shown()
            found = next((i for i in range(after, len(shown)) if needle in shown[i]), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                tail = "\n".join(shown[-20:])
                raise AssertionError(f"irssi did not print {needle!r} in {timeout}s:\n{tail}")
            time.sleep(0.05)

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
    log = home / "irssi.log"
    (home / "config").write_text(IRSSI_CONFIG % {"log": log})
    argv = ["irssi", "--home", str(home), "-c", "127.0.0.1", "-p", str(port), "-n", nick]
    return Terminal(argv, home, log)


def start_irssi_typing(home: Path, nick: str, commands: list[str]) -> Terminal:
    """irssi with a fresh home and no server given, as ``nick``; once it is up it is
    typed ``commands`` (``/network add ...``, ``/server add ...``, ``/connect ...``), as a
    user would set it up."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "irssi.log"
    (home / "config").write_text(IRSSI_CONFIG % {"log": log})
    terminal = Terminal(["irssi", "--home", str(home), "-n", nick], home, log)
    try:
        terminal.wait_shown("Irssi v", 10)  # its banner: the log is open, input is read
        for command in commands:
            terminal.type(command)
    except BaseException:
        terminal.stop()
        raise
    return terminal
