"""WeeChat, a real IRC client from Debian, driven by tests: ``weechat-headless`` in tmux.

The choice: ``weechat-headless`` (Debian package of that name, 3.8 on bookworm) is the
whole client (its IRC plugin, nick lists, notify list, away tracking) without the curses
screen. It runs in a detached tmux session of its own, on a private tmux server (its own
socket: nothing shared with other tests or a developer's tmux), which gives it a terminal
and holds what it prints on standard output (``--stdout``: its own log) for failure
reports. Tests type into it through its fifo plugin (the line ``irc.test.#chan */names``
runs ``/names`` in that buffer) and read what it shows through its logger plugin, which
writes every line of every buffer to a file of that buffer as soon as it is printed
(``logger.file.flush_delay 0``). What WeeChat keeps rather than prints (the nick list drawn
beside a channel, a nick's prefixes and away flag, the server's MONITOR limit) is read with
``/eval``, which prints it into the core buffer, and so its log. The curses client read
with ``tmux capture-pane`` was the other way: its screen wraps, scrolls and shows one
buffer at a time, while the logs are exact, complete and ordered.

Each client has a fresh home directory (``--dir``: nothing is written to ``~``), loads
only the irc, fifo and logger plugins (no scripts, no spell checker, no relay: nothing that
talks to the internet), and connects to one server on loopback without TLS, SASL,
autojoin, auto-reconnect or anti-flood delays. :meth:`WeeChat.stop` ends the client and
its tmux server by pid, always; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.harness import wait_for

#: The IRC server's name inside WeeChat: buffers are ``irc.server.test``, ``irc.test.#chan``.
SERVER = "test"

_SESSIONS = itertools.count(1)
_TOKENS = itertools.count(1)


def installed() -> bool:
    """weechat-headless, its fifo plugin (Debian's weechat-plugins) and tmux are here."""
    programs = shutil.which("weechat-headless") and shutil.which("tmux")
    return bool(programs) and any(Path("/usr/lib").glob("*/weechat/plugins/fifo.so"))


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting to be reaped has ended). These processes are tmux's
    children, not ours, so ``waitpid`` cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


class WeeChat:
    """One ``weechat-headless`` in a detached tmux session, connected as ``nick``."""

    def __init__(
        self,
        home: Path,
        port: int,
        nick: str = "weeuser",
        *,
        connect: list[str] | None = None,
        server: str = SERVER,
    ):
        """``connect``: WeeChat commands run at start instead of adding and connecting to
        the one server on ``port`` (they must add and connect to ``server``, the name its
        buffers are under: ``irc.server.<server>``)."""
        self.home = home
        self.nick = nick
        self.server = server
        self.fifo = home / "fifo"
        self.logs = home / "logs"
        home.mkdir(parents=True, exist_ok=True)
        # Not under ``home``: a socket's path must be short (108 bytes).
        self.socket = f"{tempfile.gettempdir()}/twistedchat-tmux-{os.getpid()}-{next(_SESSIONS)}"
        startup = ";".join(
            [
                f"/set fifo.file.path {self.fifo}",
                "/set logger.file.flush_delay 0",
                # Show the nick list (353) on join, not only the count (366).
                '/set irc.look.display_join_message "329,332,333,353,366"',
                *(
                    connect
                    if connect is not None
                    else [
                        f"/server add {SERVER} 127.0.0.1/{port} -notls -noautoreconnect"
                        f" -nicks={nick} -username={nick} -realname=WeeChat"
                        # No anti-flood queue: by default a command waits 2 s after the last.
                        " -anti_flood_prio_high=0 -anti_flood_prio_low=0",
                        f"/connect {SERVER}",
                    ]
                ),
            ]
        )
        argv = [
            "weechat-headless", "--stdout", "--dir", str(home), "--no-connect",
            "--no-script", "--plugins", "irc,fifo,logger", "--run-command", startup,
        ]  # fmt: skip
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "TERM": "xterm",
        }
        created = subprocess.run(
            [
                "tmux", "-S", self.socket, "-f", "/dev/null", "new-session", "-d",
                "-s", "weechat", "-x", "200", "-y", "50", "-P", "-F", "#{pid} #{pane_pid}",
                *argv,
            ],
            env=env, capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        server_pid, pane_pid = created.stdout.split()
        self.tmux_pid = int(server_pid)
        self.pid = int(pane_pid)  # tmux runs the argv itself, no shell: this is WeeChat
        try:
            wait_for(self.fifo.exists, 10, "WeeChat's fifo", interval=0.05)
        except AssertionError as error:
            report = self.report()
            self.stop()
            raise AssertionError(f"{error}\n{report}") from None

    # -- typing ------------------------------------------------------------------------

    def command(self, command: str, buffer: str | None = None) -> None:
        """Run ``command`` (``/join #x``) in ``buffer`` (``irc.test.#x``; the server's
        buffer when None), as if typed there."""
        target = buffer or f"irc.server.{self.server}"
        line = f"{target} *{command}\n".encode()
        if len(line) > select.PIPE_BUF:  # longer writes to a pipe may be cut or interleaved
            raise ValueError(f"a fifo line of {len(line)} bytes: at most {select.PIPE_BUF}")
        try:  # non-blocking: a WeeChat that died has no reader, and open says so
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            raise AssertionError(
                f"WeeChat does not read its fifo: {error}\n{self.report()}"
            ) from error
        try:
            written = os.write(fd, line)
        finally:
            os.close(fd)
        assert written == len(line), f"the fifo took {written} of {len(line)} bytes"

    # -- reading -----------------------------------------------------------------------

    def log_path(self, buffer: str) -> Path:
        return self.logs / f"{buffer.lower()}.weechatlog"

    def lines(self, buffer: str) -> list[tuple[str, str]]:
        """(prefix, message) of every line ``buffer`` showed so far."""
        path = self.log_path(buffer)
        if not path.exists():
            return []
        shown = []
        for raw in path.read_text(errors="replace").splitlines():
            parts = raw.split("\t", 2)
            if len(parts) == 3:
                shown.append((parts[1], parts[2]))
        return shown

    def messages(self, buffer: str) -> list[str]:
        return [message for _prefix, message in self.lines(buffer)]

    def wait_shown(self, buffer: str, needle: str, timeout: float = 10.0, after: int = 0) -> int:
        """Wait until ``buffer`` shows a line containing ``needle`` (from line ``after`` on);
        return that line's index."""

        def find() -> int | None:
            shown = self.messages(buffer)
            return next((i for i in range(after, len(shown)) if needle in shown[i]), None)

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = find()
            if found is not None:
                return found
            time.sleep(0.05)
        found = find()
        if found is not None:
            return found
        tail = "\n".join(self.messages(buffer)[-20:])
        raise AssertionError(
            f"WeeChat's {buffer} did not show {needle!r} within {timeout}s; it shows:\n{tail}"
            f"\n{self.report()}"
        )

    def eval(self, expression: str, buffer: str | None = None, timeout: float = 10.0) -> str:
        """What WeeChat's ``/eval`` makes of ``expression`` (run in ``buffer``)."""
        token = f"eval-{next(_TOKENS)}:"
        self.command(f"/eval /print -core {token}{expression}", buffer)
        core = "core.weechat"
        index = self.wait_shown(core, token, timeout)
        return self.messages(core)[index].split(token, 1)[1]

    def report(self) -> str:
        """tmux's screen of WeeChat (its own log on standard output), for failures."""
        try:
            screen = subprocess.run(
                ["tmux", "-S", self.socket, "capture-pane", "-p", "-t", "weechat"],
                capture_output=True, text=True, timeout=5,
            ).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError) as error:
            screen = f"(no screen: {error})"
        return f"--- WeeChat (pid {self.pid}) in tmux:\n{screen.rstrip()}"

    # -- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """``/quit``; then SIGKILL WeeChat and its tmux server, by pid, if still there."""
        if _alive(self.pid):
            with contextlib.suppress(AssertionError):
                self.command("/quit")
            if not _wait_gone(self.pid, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                _wait_gone(self.pid, 5)
        # The session ended with WeeChat, and the server with its last session.
        if not _wait_gone(self.tmux_pid, 2):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.tmux_pid, signal.SIGTERM)
            if not _wait_gone(self.tmux_pid, 3):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.tmux_pid, signal.SIGKILL)
                _wait_gone(self.tmux_pid, 5)
        with contextlib.suppress(OSError):  # a killed tmux server leaves its socket
            os.unlink(self.socket)


def start_weechat(home: Path, port: int, nick: str = "weeuser") -> WeeChat:
    """WeeChat with a fresh home, connecting to 127.0.0.1:``port`` as ``nick``."""
    return WeeChat(home, port, nick)
