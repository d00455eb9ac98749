"""A follower whose disk fills up stops at once, and catches up once it has room again.

The follower's data directory is a real, small tmpfs (root only): its Raft log fills it
while users chat through the other nodes. It must exit 1 with one line naming the index
and the reason (never run on with a log the disk does not hold), the others must go on,
and after the disk grows it must restart, catch up and lose nothing (decision 0019).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import IRCClient, leader_of, new_node, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINE = "x" * 380  # near the longest PRIVMSG, so the log grows fast


def _mount(path: Path, size: str, *, remount: bool = False) -> None:
    options = f"remount,size={size}" if remount else f"size={size}"
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=10)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = tmp_path / "node2"
    path.mkdir()
    try:
        _mount(path, "3m")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    yield path
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def test_a_follower_with_a_full_disk_stops_then_catches_up_with_nothing_lost(
    tmp_path: Path, small_disk: Path
) -> None:
    options = ["--bootstrap-expect", "2", "--flood-rate", "0", "--snapshot-every", "100000"]
    nodes = [new_node(tmp_path, f"node{i}", options) for i in range(3)]
    full = nodes[2]
    assert full.data_dir == small_disk
    for node in nodes[:2]:
        node.start()
    leader = wait_for(lambda: leader_of(nodes[:2]), 30, "a leader of the first two")
    full.start()  # joins the running cluster: a follower
    wait_for(lambda: len((leader.status() or {}).get("voters", [])) == 3, 60, "three voters")
    others = [n for n in nodes if n is not full]
    full.expect_exit(1, "its disk is full")
    full.tolerate_log("stopping at once: cannot store", "the fail-stop line is critical")
    alice = IRCClient(others[0].irc_port, "alice")
    bob = IRCClient(others[1].irc_port, "bob")
    for client in (alice, bob):
        client.send("JOIN #disk")
        client.expect(" 366 ")
    sent = 0
    while full.alive() and sent < 40_000:  # 3 MiB hold far fewer lines than that
        for _ in range(200):
            sent += 1
            alice.send(f"PRIVMSG #disk :{sent} {LINE}")
        bob_seen = bob.expect(f":{sent} ", timeout=30)
        assert bob_seen
    wait_for(lambda: not full.alive(), 30, "the node with the full disk to stop")
    assert full.process is not None and full.process.returncode == 1
    stops = [x for x in full.log_text().splitlines() if "stopping at once" in x]
    assert len(stops) == 1, stops
    assert "cannot store entries" in stops[0] or "cannot store the hard state" in stops[0]
    assert "full" in stops[0] or "No space" in stops[0], stops[0]
    alice.send(f"PRIVMSG #disk :{sent + 1} after")  # the others go on meanwhile
    bob.expect(f":{sent + 1} after")

    _mount(small_disk, "256m", remount=True)
    full.start()
    commit = (leader.status() or {})["commit_index"]
    wait_for(lambda: ((full.status() or {}).get("applied_index") or 0) >= commit, 60,
             "the restarted node to catch up")  # fmt: skip
    carol = IRCClient(full.irc_port, "carol")
    carol.send("JOIN #disk")
    carol.expect(" 366 ")
    alice.send(f"PRIVMSG #disk :{sent + 2} to everyone")
    assert carol.expect("PRIVMSG #disk").endswith(f":{sent + 2} to everyone")
    wait_for(lambda: len({(n.status() or {}).get("applied_index") for n in nodes}) == 1, 30,
             "every node at the same index")  # fmt: skip
    digests = {(n.status() or {}).get("state_digest") for n in nodes}
    assert len(digests) == 1, digests  # the same chat state: nothing lost, nothing twice
    for client in (alice, bob, carol):
        client.close()
