"""A login storm against one node, and a user chatting on it meanwhile (issue 15, item 4).

Shared by ``tests/integration/test_login_storm.py`` (which asserts no leader change and
nothing lost) and ``benchmarks/login_storm.py`` (which reports the latency figures).

- :class:`Storm`: ``connections`` unregistered clients, each sending one wrong SASL PLAIN
  a second (two lines: inside the default flood limits), all at the same moment unless
  told to spread them, over a list of accounts in turn, so that with enough accounts
  every attempt has to be hashed and none is throttled.
- :class:`Chatter`: a registered user (``echo-message``) saying a numbered line to a
  channel every ``period`` seconds, timing each from send to echo; the echo comes once the
  line is committed through Raft and applied, so it is the latency any user sees.

Both run in one selector thread each and stop on :meth:`stop`; every socket is closed.
"""

from __future__ import annotations

import base64
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from tests.integration.harness import IRCClient

PASSWORD = "right-password"


def register_accounts(port: int, names: Iterable[str], workers: int = 4) -> None:
    """Register each of ``names`` (password :data:`PASSWORD`), each from its own client."""

    def register(name: str) -> None:
        client = IRCClient(port, name)
        try:
            client.send(f"REGISTER * * {PASSWORD}")
            reply = client.expect("REGISTER SUCCESS", "FAIL REGISTER", timeout=30)
            assert "REGISTER SUCCESS" in reply, reply
            client.send("QUIT :registered")
            client.expect("ERROR ")
        finally:
            client.close()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(register, names))


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class _Loop(threading.Thread):
    """A selector loop over some sockets, reading lines, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def add(self, sock: socket.socket) -> None:
        self.buffers[sock] = b""
        self.selector.register(sock, selectors.EVENT_READ)

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                wake = self.tick(time.monotonic())
                for key, _ in self.selector.select(max(0.0, wake - time.monotonic())):
                    self._read(key.fileobj)  # type: ignore[arg-type]
        except BaseException as error:  # reported by stop()
            self.error = error
        finally:
            for sock in self.buffers:
                sock.close()
            self.selector.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        if self.error is not None:
            raise RuntimeError(f"{type(self).__name__} failed: {self.error!r}")

    def _read(self, sock: socket.socket) -> None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"{type(self).__name__}: a node closed a connection")
        lines = (self.buffers[sock] + data).split(b"\r\n")
        self.buffers[sock] = lines.pop()
        now = time.monotonic()
        for line in lines:
            text = line.decode("utf-8", "replace")
            if text.startswith("PING "):
                sock.sendall(b"PONG " + line[5:] + b"\r\n")
            self.line(sock, text, now)

    def tick(self, now: float) -> float:
        """Send what is due at ``now``; return when to be called again."""
        raise NotImplementedError

    def line(self, sock: socket.socket, text: str, now: float) -> None:
        raise NotImplementedError


class Storm(_Loop):
    """``connections`` clients, each one wrong SASL PLAIN every ``interval`` seconds."""

    def __init__(
        self,
        port: int,
        accounts: list[str],
        connections: int = 16,
        interval: float = 1.0,
        spread: bool = False,
    ) -> None:
        """``spread``: attempts spread evenly over each interval; else all connections
        send at once, the worst case for a node that hashes on its reactor thread."""
        super().__init__()
        self.accounts = accounts
        self.interval = interval
        self.replies: Counter[str] = Counter()  # the text of each 904
        self.verdict_seconds: list[float] = []  # from the wrong password to its 904
        self._sent: dict[socket.socket, float] = {}
        self._next: dict[socket.socket, float] = {}
        self._attempts = 0
        start = time.monotonic()
        for n in range(connections):
            sock = _connect(port)
            sock.sendall(f"CAP LS 302\r\nCAP REQ :sasl\r\nNICK storm{n}\r\n"
                         f"USER storm{n} 0 * :storm\r\n".encode())  # fmt: skip
            self.add(sock)
            self._next[sock] = start + (interval * n / connections if spread else 0.0)

    @property
    def attempts(self) -> int:
        return self._attempts

    def tick(self, now: float) -> float:
        for sock, due in self._next.items():
            if due <= now and sock not in self._sent:
                account = self.accounts[self._attempts % len(self.accounts)]
                self._attempts += 1
                response = base64.b64encode(f"\0{account}\0wrong-password".encode()).decode()
                sock.sendall(f"AUTHENTICATE PLAIN\r\nAUTHENTICATE {response}\r\n".encode())
                self._sent[sock] = now
                self._next[sock] = due + self.interval
        return min(self._next.values())

    def line(self, sock: socket.socket, text: str, now: float) -> None:
        words = text.split(" ", 3)
        if len(words) == 4 and words[1] == "904":
            self.replies[words[3].lstrip(":")] += 1
            sent = self._sent.pop(sock, None)
            if sent is not None:
                self.verdict_seconds.append(now - sent)


class Chatter(_Loop):
    """A user on ``port`` saying a numbered line to ``channel`` every ``period`` seconds.

    :attr:`latencies` holds (sent at, seconds to the echo) per line, so a caller can
    split them by phase.
    """

    def __init__(self, port: int, nick: str, channel: str, period: float = 0.05) -> None:
        super().__init__()
        self.channel = channel
        self.period = period
        client = IRCClient(port, nick, caps=("echo-message",))
        client.send(f"JOIN {channel}")
        client.expect(f" 366 {nick} {channel} ")
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sock.setblocking(False)
        self.add(client.sock)
        self._sock = client.sock
        self._sent: dict[int, float] = {}
        self.latencies: list[tuple[float, float]] = []
        self.sent_at: list[float] = []
        self.sent = 0
        self.sending = True  # False: keep reading echoes, send nothing more
        self._next = time.monotonic()

    def tick(self, now: float) -> float:
        if not self.sending:
            return now + self.period
        if now >= self._next:
            self.sent += 1
            self._sent[self.sent] = now
            self.sent_at.append(now)
            self._sock.sendall(f"PRIVMSG {self.channel} :line {self.sent}\r\n".encode())
            self._next += self.period
        return self._next

    def line(self, sock: socket.socket, text: str, now: float) -> None:
        marker = f" PRIVMSG {self.channel} :line "
        if marker in text:
            sent = self._sent.pop(int(text.rsplit(" ", 1)[1]), None)
            if sent is not None:
                self.latencies.append((sent, now - sent))

    def finish(self, timeout: float = 10.0) -> None:
        """Stop sending, wait for the echoes still due (at most ``timeout``), stop."""
        self.sending = False
        deadline = time.monotonic() + timeout
        while self._sent and time.monotonic() < deadline:
            time.sleep(0.02)
        self.stop()

    def unanswered(self) -> int:
        return len(self._sent)
