"""Discovery across real hosts: nodes in separate network namespaces joined by a bridge.

Each node gets its own namespace, a veth pair whose other end sits on a bridge (itself in
a namespace of its own), and an address in a private 10.x subnet that exists only inside
this test. Broadcast goes to that subnet's broadcast address, never beyond it. Needs root
and ``ip``; skipped otherwise. Every namespace and process is removed by the test.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.harness import TWISTD, wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
)

IRC_PORT, PEER_PORT, STATUS_PORT = 6667, 7667, 8667


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Host:
    netns: str
    veth: str  # the bridge-side end, in the bridge's namespace
    address: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def node_id(self) -> str:
        return f"{self.address}:{PEER_PORT}"

    def status(self) -> dict[str, object] | None:
        url = f"http://{self.address}:{STATUS_PORT}/status"
        result = subprocess.run(
            ["ip", "netns", "exec", self.netns, "curl", "-s", "--max-time", "2", url],
            capture_output=True, timeout=10,
        )  # fmt: skip
        try:
            status: dict[str, object] = json.loads(result.stdout)
            return status
        except ValueError:
            return None


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[tuple[str, list[Host]]]:
    """A bridge namespace and three host namespaces on a private /24."""
    tag = f"tc{os.getpid() % 10000}{random.randrange(100)}"
    subnet = f"10.{random.randrange(100, 250)}.{random.randrange(1, 250)}"
    bridge_ns = f"{tag}-br"
    hosts = [Host(f"{tag}-h{i}", f"{tag}v{i}", f"{subnet}.{i + 1}") for i in range(3)]
    created: list[str] = []
    try:
        ip("netns", "add", bridge_ns)
        created.append(bridge_ns)
        ip("-n", bridge_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", bridge_ns, "link", "set", "br0", "up")
        for host in hosts:
            ip("netns", "add", host.netns)
            created.append(host.netns)
            ip("link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}p")
            ip("link", "set", host.veth, "netns", bridge_ns)
            ip("link", "set", f"{host.veth}p", "netns", host.netns)
            ip("-n", bridge_ns, "link", "set", host.veth, "master", "br0", "up")
            ip("-n", host.netns, "link", "set", f"{host.veth}p", "name", "eth0")
            ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", host.netns, "link", "set", "eth0", "up")
            ip("-n", host.netns, "link", "set", "lo", "up")
        yield bridge_ns, hosts
    finally:
        for host in hosts:
            if host.process is not None and host.process.poll() is None:
                host.process.kill()
                host.process.wait(timeout=10)
        for netns in reversed(created):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10)


def start(host: Host, root: Path) -> None:
    secret = root / "cluster.secret"
    if not secret.exists():
        secret.write_text(os.urandom(32).hex())
    log = open(root / f"{host.netns}.log", "ab")  # noqa: SIM115 - the child owns it
    host.process = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, TWISTD, "-n", "--pidfile=", "chatnode",
         "--data-dir", str(root / host.netns),
         "--irc", f"tcp:{IRC_PORT}:interface={host.address}",
         "--peer", f"tcp:{PEER_PORT}:interface={host.address}",
         "--status", f"tcp:{STATUS_PORT}:interface={host.address}",
         "--secret-file", str(secret), "--bootstrap-expect", "3", "--insecure-peers",
         "--dead-node-timeout", "300"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()


def agreed_leader(hosts: list[Host]) -> str | None:
    leaders = {(host.status() or {}).get("leader") for host in hosts}
    return leaders.pop() if len(leaders) == 1 else None


def test_discovery_and_partition_across_namespaces(
    lan: tuple[str, list[Host]], tmp_path: Path
) -> None:
    bridge_ns, hosts = lan
    for host in hosts:
        start(host, tmp_path)
    leader_id = wait_for(lambda: agreed_leader(hosts), 40, "one leader across namespaces")
    status = hosts[0].status()
    assert status is not None
    assert sorted(status["voters"]) == sorted(h.node_id for h in hosts)  # type: ignore[call-overload]
    # Cut the leader's link: the other two elect a new leader among themselves.
    leader = next(h for h in hosts if h.node_id == leader_id)
    others = [h for h in hosts if h is not leader]
    ip("-n", bridge_ns, "link", "set", leader.veth, "down")
    new_leader = wait_for(
        lambda: (lead := agreed_leader(others)) not in (None, leader_id) and lead,
        30,
        "the majority side to elect a new leader",
    )
    # Heal: the old leader rejoins as a follower of the new one (pre-vote keeps it quiet).
    ip("-n", bridge_ns, "link", "set", leader.veth, "up")
    wait_for(lambda: agreed_leader(hosts) == new_leader, 30, "the old leader to rejoin")
    for host in hosts:
        assert host.process is not None and host.process.poll() is None
