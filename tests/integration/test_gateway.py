"""The gateway: an IRC client behind it does not notice its node dying (issue 6).

A 3-node cluster, a ``twistd chatgateway`` finding it by broadcast, alice on the gateway
and two users directly on the other nodes. While alice and carol stream numbered lines
into one channel, the node alice's gateway uses is killed with SIGKILL. Every line must
reach every other member exactly once and in order, alice must get every line carol sent
meanwhile once, and alice's connection must show no disconnect, QUIT, JOIN or error.
Others' joins and parts during the failover do reach her (event-playback).
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import (
    Gateway,
    IRCClient,
    Node,
    free_ports,
    leader_of,
    sentinel,
    wait_for,
)
from tests.integration.terminal import start_irssi

LINES = 40


class Recorder(threading.Thread):
    """Reads everything one client receives, keeping the texts said in #stream."""

    def __init__(self, client: IRCClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.texts: list[str] = []
        self.noise: list[str] = []  # lines that would show the user a failover
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                line = self.client.read_line(timeout=0.3)
            except TimeoutError:
                continue
            except OSError as error:
                self.noise.append(f"connection: {error}")
                return
            if " PRIVMSG #stream :" in line:
                self.texts.append(line.rsplit(" :", 1)[1])
            elif line.startswith("ERROR") or any(
                f" {word} " in line for word in ("QUIT", "JOIN", "PART")
            ):
                self.noise.append(line)

    def said_by(self, nick: str) -> list[str]:
        return [t for t in self.texts if t.startswith(f"{nick}-")]


def stream(client: IRCClient, nick: str, on_line: Callable[[int], None] = lambda i: None) -> None:
    for i in range(LINES):
        client.send(f"PRIVMSG #stream :{nick}-{i:03d}")
        on_line(i)
        time.sleep(0.05)


def joined(client: IRCClient) -> IRCClient:
    client.send("JOIN #stream")
    client.expect(" 366 ")
    return client


def run_failover(
    nodes: list[Node],
    root: Path,
    victim: Callable[[Node], Node],
    signum: signal.Signals = signal.SIGKILL,
) -> None:
    """Stream from alice (on the gateway) and a direct user; ``signum`` ``victim(home)``."""
    gateway = Gateway(root, free_ports(1)[0])
    gateway.start()
    try:
        alice = joined(IRCClient(gateway.port, "alice", caps=["echo-message"]))

        def home_node() -> Node | None:
            counts = [(n, (n.status() or {}).get("clients")) for n in nodes]
            return next((n for n, count in counts if count == 1), None)

        home = wait_for(home_node, 10, "the node the gateway chose")
        others = [n for n in nodes if n is not home]
        direct = {
            "bob": (joined(IRCClient(others[0].irc_port, "bob", caps=["echo-message"])), others[0]),
            "carol": (
                joined(IRCClient(others[1].irc_port, "carol", caps=["echo-message"])),
                others[1],
            ),
        }
        alice.expect(":carol!")  # everyone is in: from now on a JOIN would be noise
        doomed = victim(home)
        survivors = {name: client for name, (client, node) in direct.items() if node is not doomed}
        talker = next(iter(survivors))
        recorders = {name: Recorder(c) for name, c in [("alice", alice), *survivors.items()]}
        for recorder in recorders.values():
            recorder.start()

        def kill_early(i: int) -> None:
            if i == LINES // 4:
                doomed.signal(signum)

        threads = [
            threading.Thread(target=stream, args=(alice, "alice", kill_early)),
            threading.Thread(target=stream, args=(survivors[talker], talker)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # Every line alice typed must arrive: the gateway retries whatever a node refused.
        # A direct user's line counts once its echo came back (a node may refuse a write
        # with 400 while it has no quorum); each of those must arrive everywhere.
        expected = {"alice": [f"alice-{i:03d}" for i in range(LINES)]}

        def complete() -> bool:
            expected[talker] = recorders[talker].said_by(talker)
            return all(r.said_by(n) == expected[n] for r in recorders.values() for n in expected)

        try:
            wait_for(complete, 60, "every line at every member", interval=0.2)
            # Nothing more: no second copy of a line, no late QUIT or JOIN for alice.
            sentinel(survivors[talker], "#stream",
                     *(lambda t, r=r: t in r.texts for r in recorders.values()))  # fmt: skip
        except AssertionError:
            print(gateway.log_text()[-4000:])
            for name, recorder in recorders.items():
                for nick in expected:
                    missing = sorted(set(expected[nick]) - set(recorder.said_by(nick)))
                    print(f"{name} got {len(recorder.said_by(nick))} of {nick}, missing {missing}")
            raise
        finally:
            for recorder in recorders.values():
                recorder.stopping.set()
        assert len(expected[talker]) >= LINES // 2, expected[talker]
        for name, recorder in recorders.items():
            for nick in expected:  # exactly once, in order, echoes included
                assert recorder.said_by(nick) == expected[nick], (name, nick, recorder.texts)
        assert recorders["alice"].noise == []
        for name, recorder in recorders.items():
            assert not [line for line in recorder.noise if "alice" in line], (name, recorder.noise)
    finally:
        gateway.stop()


@pytest.mark.integration
def test_gateway_user_keeps_chatting_when_its_node_is_killed(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--flood-rate", "0")
    run_failover(nodes, tmp_path, victim=lambda home: home)


@pytest.mark.integration
def test_gateway_user_keeps_chatting_when_the_leader_is_killed(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--flood-rate", "0")
    run_failover(nodes, tmp_path, victim=lambda home: leader_of(nodes) or home)


@pytest.mark.integration
def test_gateway_user_moves_when_its_node_is_stopped_for_maintenance(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    """A node stopped gracefully first asks its resumable clients to move elsewhere."""
    nodes = cluster_factory(3, "--flood-rate", "0")
    run_failover(nodes, tmp_path, victim=lambda home: home, signum=signal.SIGTERM)


def until_applied(client: IRCClient, line: str, done: str) -> bool:
    """Send ``line`` until the cluster applied it (``done`` comes back): a node may refuse
    a write with 400 while the cluster elects a leader."""
    client.send(line)
    try:
        return " 400 " not in client.expect(done, " 400 ", timeout=3)
    except TimeoutError:
        return False


@pytest.mark.integration
def test_joins_and_parts_while_failing_over_reach_the_client_behind_the_gateway(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    """The gateway's node hangs (SIGSTOP: the gateway notices only after its keepalive),
    carol joins and bob parts on the others, then the node dies. alice, who negotiated
    no event-playback, must still see both: her nick list would be wrong without them."""
    nodes = cluster_factory(3)
    gateway = Gateway(tmp_path, free_ports(1)[0])
    gateway.start()
    try:
        alice = joined(IRCClient(gateway.port, "alice"))

        def home_node() -> Node | None:
            counts = [(n, (n.status() or {}).get("clients")) for n in nodes]
            return next((n for n, count in counts if count == 1), None)

        home = wait_for(home_node, 10, "the node the gateway chose")
        others = [n for n in nodes if n is not home]
        bob = joined(IRCClient(others[0].irc_port, "bob"))
        carol = IRCClient(others[1].irc_port, "carol")
        alice.expect(":bob!")
        mark = len(alice.lines)
        home.signal(signal.SIGSTOP)
        wait_for(lambda: until_applied(carol, "JOIN #stream", " 366 "), 30, "carol's JOIN")
        wait_for(lambda: until_applied(bob, "PART #stream", " PART "), 30, "bob's PART")
        home.kill()
        seen = [alice.expect(" JOIN ", " PART ", timeout=30) for _ in range(2)]
        assert seen[0].startswith(":carol!") and seen[0].endswith(" JOIN #stream"), seen
        assert seen[1].startswith(":bob!") and seen[1].endswith(" PART :#stream"), seen
        alice.send("PRIVMSG #stream :back")
        assert carol.expect("PRIVMSG #stream").endswith(":back")
        sentinel(carol, "#stream", alice)  # and neither event came twice
        events = [line for line in alice.lines[mark:] if " JOIN " in line or " PART " in line]
        assert events == seen
    finally:
        gateway.stop()


@pytest.mark.integration
def test_irssi_behind_the_gateway_does_not_notice_its_node_dying(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    if shutil.which("irssi") is None:
        pytest.skip("irssi is not installed (.ci/run installs it with apt)")
    nodes = cluster_factory(3)
    gateway = Gateway(tmp_path, free_ports(1)[0])
    gateway.start()
    irssi = start_irssi(tmp_path / "irssi-home", gateway.port)
    bob: IRCClient | None = None
    try:

        def home_node() -> Node | None:
            counts = [(n, (n.status() or {}).get("clients")) for n in nodes]
            return next((n for n, count in counts if count == 1), None)

        home = wait_for(home_node, 20, "irssi to register through the gateway", interval=0.3)
        bob = joined(IRCClient(next(n for n in nodes if n is not home).irc_port, "bob"))
        irssi.type("/join #stream")
        bob.expect(":irssiuser!")
        home.kill()
        bob.send("PRIVMSG #stream :said while your node was dead")
        wait_for(lambda: b"said while your node was dead" in irssi.screen, 30, "the line")
        irssi.type("still here")
        assert bob.expect("PRIVMSG #stream").endswith(":still here")
        assert b"Connection lost" not in irssi.screen and b"Disconnected" not in irssi.screen
    finally:
        irssi.stop()
        if bob is not None:
            bob.close()
        gateway.stop()


@pytest.mark.integration
def test_the_gateway_skips_full_nodes(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3, "--max-clients", "1")
    fillers = [IRCClient(n.irc_port, f"filler{i}") for i, n in enumerate(nodes[:2])]
    gateway = Gateway(tmp_path, free_ports(1)[0])
    gateway.start()
    try:
        for _ in range(3):  # whatever the order of offers, only the node with room is used
            alice = IRCClient(gateway.port, "alice")
            assert (nodes[2].status() or {}).get("clients") == 1
            alice.send("QUIT :again")
            alice.close()
            wait_for(lambda: (nodes[2].status() or {}).get("clients") == 0, 10, "a free slot")
    finally:
        for client in fillers:
            client.close()
        gateway.stop()


def test_the_gateway_gives_the_nodes_their_server_password(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    password = tmp_path / "server-password"
    password.write_text("open-sesame\n")
    (node,) = cluster_factory(1, "--password-file", str(password))
    gateway = Gateway(tmp_path, free_ports(1)[0], ["--password-file", str(password)])
    gateway.start()
    try:
        bob = IRCClient(node.irc_port)
        bob.send("PASS open-sesame")
        bob.register("bob")
        joined(bob)
        alice = joined(IRCClient(gateway.port, "alice"))  # alice herself sends no PASS
        alice.send("PRIVMSG #stream :through the gateway")
        assert bob.expect("PRIVMSG #stream").endswith(":through the gateway")
        for client in (alice, bob):
            client.close()
    finally:
        gateway.stop()
