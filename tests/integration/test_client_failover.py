"""A real client loses its node while someone talks, moves to another node by itself,
takes its session back by logging in, and shows every line once, in order: no gateway.

Per test, a fresh 3-node cluster (each test kills one of its nodes, and starting three
costs about what restarting one and waiting for it to catch up would). alice has an
account (SASL PLAIN) and a client that knows every node's address as one network (the
set-up ``make run`` prints, from :mod:`twistedchat.devcluster`), with a reconnect delay
of 1 s. She joins a channel; bob, a plain socket client on another node, says 40 numbered
lines at 5 a second, and after his 10th the node alice is on is killed (kill -9; never
bob's). Her client must see the connection drop, connect to another node, log in, and get
the session that still holds her nick ("Welcome back": same nick, same channel); the test
then reads what the client itself shows (irssi's log of what it prints, WeeChat's logger
files, the raw client's lines) and wants bob's 40 lines there once each and in order:
what was said while she had no connection is replayed by the node she reclaimed on, after
one ``*** Replaying N lines`` notice (for the raw client: right before those N lines, and
with no tags, which it did not negotiate), and the client back while bob still talks (a
quick reconnect).

The clients: irssi on a pseudo-terminal (``terminal.py``), WeeChat headless in tmux
(``weechat.py``), each typed the printed commands, and a raw socket client that negotiates
nothing but ``sasl`` (``CAP REQ :sasl`` and ``AUTHENTICATE PLAIN``: without SASL a client
has no way to reclaim a held nick, neither ``PASS`` nor NickServ ``IDENTIFY`` under
another nick takes it) and reconnects to the next node itself, once with the
leader as its node and once with a follower. WeeChat starts on the leader (the first
address it is given), irssi on a follower.
"""

from __future__ import annotations

import base64
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration import weechat
from tests.integration.harness import IRCClient, Node, leader_of, sentinel, wait_for
from tests.integration.terminal import start_irssi_typing
from tests.integration.weechat import WeeChat
from twistedchat.devcluster import NETWORK, irssi_commands, weechat_commands

CHANNEL = "#failover"
PASSWORD = "s3cret-enough"
LINES = 40  # bob's lines, "said 1" to "said 40"
RATE = 5.0  # lines a second
KILL_AFTER = 10  # alice's node dies right after bob's 10th line
TEXT = re.compile(r"^said (\d+)$")

needs_irssi = pytest.mark.skipif(
    shutil.which("irssi") is None, reason="irssi is not installed (.ci/run installs it with apt)"
)
needs_weechat = pytest.mark.skipif(
    not weechat.installed(),
    reason="weechat-headless, weechat-plugins or tmux is not installed (.ci/run installs them)",
)


@pytest.fixture
def nodes(cluster_factory: Callable[..., list[Node]]) -> list[Node]:
    # bob talks faster than the default flood rate (2 lines/s after a burst of 10).
    return cluster_factory(3, "--flood-rate", "10")


def register_account(node: Node, account: str) -> None:
    """Register ``account`` (password ``PASSWORD``) and leave, so the nick is free."""
    client = IRCClient(node.irc_port, account)
    try:
        client.send(f"REGISTER * * {PASSWORD}")
        assert f"REGISTER SUCCESS {account}" in client.expect("REGISTER SUCCESS", "FAIL REGISTER")
        client.send("QUIT :set up")
        client.expect("ERROR ")
    finally:
        client.close()


def server_names(nodes: list[Node]) -> dict[str, Node]:
    """Each node by the server name it gives itself (what WHOIS's 312 names)."""
    names = {}
    for number, node in enumerate(nodes):
        probe = IRCClient(node.irc_port, f"probe{number}")
        try:
            welcome = next(line for line in probe.lines if " 001 " in line)
            names[welcome.split()[0][1:]] = node
            probe.send("QUIT :probed")
            probe.expect("ERROR ")
        finally:
            probe.close()
    return names


def node_of(asker: IRCClient, nick: str, names: dict[str, Node]) -> Node:
    """The node ``nick``'s session is on, by WHOIS."""
    asker.send(f"WHOIS {nick}")
    line = asker.expect(" 312 ", " 401 ")
    assert " 312 " in line, line
    asker.expect(" 318 ")
    return names[line.split()[4]]


def ordered(nodes: list[Node], first: Node) -> list[Node]:
    return [first, *(n for n in nodes if n is not first)]


def addresses(nodes: list[Node]) -> list[tuple[str, int]]:
    return [("127.0.0.1", node.irc_port) for node in nodes]


def join_bob(nodes: list[Node], names: dict[str, Node], alice: str) -> tuple[IRCClient, Node]:
    """bob, on a node other than alice's, joined to ``CHANNEL`` (where alice already is);
    returns him and alice's node."""
    probe = IRCClient(nodes[0].irc_port, "bobprobe")
    try:
        victim = node_of(probe, alice, names)
    finally:
        probe.close()
    bob = IRCClient(next(n for n in nodes if n is not victim).irc_port, "bob")
    bob.send(f"JOIN {CHANNEL}")
    names_line = bob.expect(" 353 ")
    bob.expect(" 366 ")
    assert alice in re.sub(r"[@+]", "", names_line.split(" :", 1)[1]).split(), names_line
    return bob, victim


def talk_and_kill(bob: IRCClient, victim: Node) -> None:
    """bob says ``LINES`` numbered lines at ``RATE`` a second; right after line
    ``KILL_AFTER``, ``victim`` is killed (kill -9)."""
    start = time.monotonic()
    for number in range(1, LINES + 1):
        time.sleep(max(0.0, start + (number - 1) / RATE - time.monotonic()))
        bob.send(f"PRIVMSG {CHANNEL} :said {number}")
        if number == KILL_AFTER:
            victim.kill()


def check_lines(shown: list[int], what: str) -> None:
    """``shown``: the numbers of bob's lines as the client shows them, in its order."""
    assert len(shown) == len(set(shown)), f"{what} showed a line twice: {shown}"
    assert shown == sorted(shown), f"{what} showed bob's lines out of order: {shown}"
    assert shown and shown[-1] == LINES, f"{what} did not show bob's last line: {shown}"
    assert shown[: KILL_AFTER - 1] == list(range(1, KILL_AFTER)), (
        f"{what} missed lines said before its node died: {shown}"
    )
    missed = sorted(set(range(1, LINES + 1)) - set(shown))
    assert not missed, f"{what} never showed bob's lines {missed} (said while it was away)"


REPLAYING = re.compile(r"\*\*\* Replaying (\d+) lines you missed")


def check_replay_notice(shown: list[str], after: int, what: str) -> int:
    """The one ``*** Replaying N lines`` notice among the lines ``shown`` from ``after``
    (the reconnect's welcome) on, as the client shows it; returns N."""
    notices = [(i, m) for i, line in enumerate(shown) if (m := REPLAYING.search(line))]
    assert len(notices) == 1, f"{what} showed {len(notices)} replay notices: {notices}"
    ((index, match),) = notices
    assert index > after, f"{what} showed the replay notice before it reconnected"
    count = int(match[1])
    assert count >= 1, f"{what}: {shown[index]}"
    # The reconnect is quick: the client was back while bob still had a second to talk
    # (WeeChat's default delay of 10 s would miss that).
    live = LINES - KILL_AFTER - count
    assert live >= RATE, f"{what} came back late: {count} lines replayed, {live} live"
    return count


def moved(bob: IRCClient, alice: str, names: dict[str, Node], victim: Node) -> Node:
    now = node_of(bob, alice, names)
    assert now is not victim and now.alive(), f"alice is still on the dead node {victim}"
    return now


# -- irssi ---------------------------------------------------------------------------------


@needs_irssi
def test_irssi_moves_to_another_node_and_shows_every_line_once(
    nodes: list[Node], tmp_path: Path
) -> None:
    register_account(nodes[0], "alice")
    names = server_names(nodes)
    leader = leader_of(nodes)
    assert leader is not None
    # irssi connects to the server added last first: the leader goes first, so it is not.
    listed = ordered(nodes, leader)
    commands = irssi_commands(addresses(listed), "alice", PASSWORD)
    irssi = start_irssi_typing(tmp_path / "irssi-home", "alice", commands)
    bob: IRCClient | None = None
    try:
        welcome = irssi.wait_shown("Welcome to the Internet Relay Network alice!", 20)
        irssi.type(f"/join {CHANNEL}")
        irssi.wait_shown(f"has joined {CHANNEL}", 10, after=welcome)
        bob, victim = join_bob(nodes, names, "alice")
        assert victim is listed[-1], "irssi did not start on the server added last"
        talk_and_kill(bob, victim)

        def shown_numbers() -> list[int]:
            # One log for every window: each line starts with its window's name.
            said = (re.match(rf"^{CHANNEL}: <[@+ ]?bob> (.*)$", line) for line in irssi.shown())
            return [int(m[1]) for s in said if s and (m := TEXT.match(s[1]))]

        lost = irssi.wait_shown("Connection lost", 10, after=welcome)
        back = irssi.wait_shown("Welcome back, alice", 20, after=lost)
        sentinel(bob, CHANNEL, lambda text: any(text in line for line in irssi.shown()))
        moved(bob, "alice", names, victim)
        host = irssi.wait_shown("Your host is ", 5, after=back)
        assert names[irssi.shown()[host].split("Your host is ")[1].split(",")[0]] is not victim
        check_lines(shown_numbers(), "irssi")
        check_replay_notice(irssi.shown(), back, "irssi")
    finally:
        irssi.stop()
        if bob is not None:
            bob.close()


# -- WeeChat -------------------------------------------------------------------------------


@needs_weechat
def test_weechat_moves_to_another_node_and_shows_every_line_once(
    nodes: list[Node], tmp_path: Path
) -> None:
    register_account(nodes[0], "alice")
    names = server_names(nodes)
    leader = leader_of(nodes)
    assert leader is not None
    # WeeChat tries its addresses in order: it starts on the leader.
    commands = weechat_commands(addresses(ordered(nodes, leader)), "alice", PASSWORD)
    wee = WeeChat(tmp_path / "weechat-home", 0, "alice", connect=commands, server=NETWORK)
    server_buffer, channel_buffer = f"irc.server.{NETWORK}", f"irc.{NETWORK}.{CHANNEL}"
    bob: IRCClient | None = None
    try:
        welcome = wee.wait_shown(server_buffer, "Welcome to the Internet Relay Network alice!", 20)
        wee.command(f"/join {CHANNEL}")
        wee.wait_shown(channel_buffer, f"has joined {CHANNEL}", 10)
        bob, victim = join_bob(nodes, names, "alice")
        assert victim is leader, "WeeChat did not start on its first address, the leader"
        talk_and_kill(bob, victim)

        def shown_numbers() -> list[int]:
            return [
                int(m[1])
                for prefix, message in wee.lines(channel_buffer)
                if prefix.lstrip("@+") == "bob" and (m := TEXT.match(message))
            ]

        lost = wee.wait_shown(server_buffer, "disconnected from server", 10, after=welcome)
        back = wee.wait_shown(server_buffer, "Welcome back, alice", 20, after=lost)
        sentinel(bob, CHANNEL, lambda text: any(text in m for m in wee.messages(channel_buffer)))
        moved(bob, "alice", names, victim)
        host = wee.messages(server_buffer)[wee.wait_shown(server_buffer, "Your host is ", 5, back)]
        assert names[host.split("Your host is ")[1].split(",")[0]] is not victim
        check_lines(shown_numbers(), "WeeChat")
        # A server notice before registration's end goes to the server buffer.
        check_replay_notice(wee.messages(server_buffer), back, "WeeChat")
    finally:
        wee.stop()
        if bob is not None:
            bob.close()


# -- a raw client --------------------------------------------------------------------------


class PlainReclaimer:
    """alice as a socket client that negotiates nothing but ``sasl``: ``CAP REQ :sasl``,
    NICK, USER, ``AUTHENTICATE PLAIN``, ``CAP END``. When its connection drops it connects
    to the next node of its list (after a refusal, the one after that), logs in again and
    reads on; it joins its channel once, at the first connection. Reads in a thread of its
    own, bounded in time; every line of every connection is in ``lines``, in order."""

    def __init__(self, ports: list[int], nick: str, account: str, password: str):
        self.ports = ports
        self.nick, self.account, self.password = nick, account, password
        self.lines: list[str] = []  # appended by the reader thread only
        self.connections: list[tuple[int, int]] = []  # (port, index in lines it began at)
        self.client: IRCClient | None = None
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._at = 0

    def start(self, channel: str) -> None:
        self._connect(self.ports[0])
        assert self.client is not None
        self.client.send(f"JOIN {channel}")
        self._thread.start()

    def wait_line(self, needle: str, timeout: float, after: int = 0) -> int:
        """Wait until a line containing ``needle`` came (from line ``after`` on); its index."""

        def found() -> int:  # the index plus one, 0 for none yet
            lines = self.lines
            return next((i + 1 for i in range(after, len(lines)) if needle in lines[i]), 0)

        try:
            return int(wait_for(found, timeout, f"the raw client to get {needle!r}")) - 1
        except AssertionError as error:
            last = self.lines[-10:]
            raise AssertionError(f"{error}; failure: {self.failure!r}; {last}") from None

    def _connect(self, port: int) -> None:
        client = IRCClient(port)
        self.connections.append((port, len(self.lines)))
        client.lines = self.lines  # one record across connections
        client.send("CAP REQ :sasl")
        client.send(f"NICK {self.nick}")
        client.send(f"USER {self.nick} 0 * :{self.nick}")
        client.expect(" ACK ")
        client.send("AUTHENTICATE PLAIN")
        client.expect("AUTHENTICATE +")
        plain = f"\0{self.account}\0{self.password}".encode()
        client.send("AUTHENTICATE " + base64.b64encode(plain).decode())
        client.expect(" 903 ")
        client.send("CAP END")
        client.expect(" 001 ", timeout=15)  # a reclaim may wait for the old node to be down
        self.client, self._at = client, self.ports.index(port)

    def _reconnect(self, deadline: float) -> None:
        for attempt in range(1, 20):
            if self._stop.is_set() or time.monotonic() > deadline:
                break
            port = self.ports[(self._at + attempt) % len(self.ports)]
            time.sleep(0.2)
            try:
                self._connect(port)
                return
            except (OSError, ConnectionError, TimeoutError):
                continue
        raise AssertionError("the raw client found no node to reconnect to")

    def _read(self) -> None:
        deadline = time.monotonic() + 90
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                assert self.client is not None
                try:
                    self.client.read_line(timeout=0.2)
                except TimeoutError:
                    continue
                except (OSError, ConnectionError):
                    self.client.close()
                    self._reconnect(deadline)
        except BaseException as error:  # reported by the test
            self.failure = error

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.client is not None:
            self.client.close()


@pytest.fixture
def reclaimer() -> Iterator[list[PlainReclaimer]]:
    made: list[PlainReclaimer] = []
    yield made
    for each in made:
        each.stop()


@pytest.mark.parametrize("role", ["follower", "leader"])
def test_a_raw_client_reclaims_on_another_node_and_gets_every_line_once(
    nodes: list[Node], role: str, reclaimer: list[PlainReclaimer]
) -> None:
    register_account(nodes[0], "alice")
    names = server_names(nodes)
    leader = leader_of(nodes)
    assert leader is not None
    first = leader if role == "leader" else next(n for n in nodes if n is not leader)
    alice = PlainReclaimer([n.irc_port for n in ordered(nodes, first)], "alice", "alice", PASSWORD)
    reclaimer.append(alice)
    alice.start(CHANNEL)
    alice.wait_line(f" JOIN {CHANNEL}", 10)
    bob, victim = join_bob(nodes, names, "alice")
    try:
        assert victim is first
        talk_and_kill(bob, victim)
        wait_for(lambda: len(alice.connections) > 1, 20, "the raw client to reconnect")
        port, began = alice.connections[-1]
        assert port != victim.irc_port
        back = alice.wait_line(" 001 alice :Welcome back", 20, after=began)
        sentinel(bob, CHANNEL, lambda text: any(text in line for line in alice.lines))
        moved(bob, "alice", names, victim)
        assert alice.failure is None, alice.failure
        # The node she reclaimed on sent her channel back without her asking.
        alice.wait_line(f" JOIN {CHANNEL}", 1, after=back)
        lines = list(alice.lines)
        said = (re.match(rf"^:bob!\S+ PRIVMSG {CHANNEL} :(.*)$", line) for line in lines)
        check_lines([int(m[1]) for s in said if s and (m := TEXT.match(s[1]))], "the raw client")
        # It negotiated no message-tags: the replayed lines come as plain ones, tags dropped.
        assert not [line for line in lines if line.startswith("@")]
        notice = check_replay_notice(lines, back, "the raw client")
        index = next(i for i, line in enumerate(lines) if REPLAYING.search(line))
        assert lines[index].startswith(":") and " NOTICE alice :*** Replaying " in lines[index]
        # The notice comes right before the lines it counts, the missed ones: the first of
        # them follows the last line the dead node delivered.
        before = [int(m[1]) for line in lines[:index] if (m := re.search(r" :said (\d+)$", line))]
        after = [
            int(m[1]) for line in lines[index + 1 :] if (m := re.search(r" :said (\d+)$", line))
        ]
        assert after[:notice] == list(range(before[-1] + 1, before[-1] + 1 + notice)), lines
    finally:
        bob.close()
