"""Start-up failures of real ``twistd chatnode`` and ``twistd chatgateway`` processes.

Each must end the process within seconds with status 1 and exactly one line saying what
failed, where, and why (issue 15, item 6): no traceback, no "Unhandled error in
Deferred", no ``ReactorNotRunning``, and no node left running with a port missing.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.harness import TWISTD, free_ports, free_udp_port
from twistedchat.security import pki

pytestmark = pytest.mark.integration

#: A failing start takes about half a second; the rest is slack for a loaded machine.
EXIT_WITHIN = 20.0
NOISE = ("Traceback", "Unhandled error", "ReactorNotRunning")


def run(program: str, args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``twistd -n <program> <args>`` to its end; its exit status and output.

    A process still running after :data:`EXIT_WITHIN` is a failure of the test, and is
    killed by its pid first."""
    log = cwd / f"{program}.out"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", program, *args],
            stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip
    try:
        status = process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"{program} still running after {EXIT_WITHIN}s:\n{log.read_text()[-3000:]}")
    return status, log.read_text(errors="replace")


def node_args(tmp_path: Path, *, irc: int, peer: int, status: int, udp: int) -> list[str]:
    return [
        "--data-dir", str(tmp_path / "data"), "--insecure-peers",
        "--irc", f"tcp:{irc}:interface=127.0.0.1",
        "--peer", f"tcp:{peer}:interface=127.0.0.1",
        "--status", f"tcp:{status}:interface=127.0.0.1",
        "--discovery-port", str(udp), "--cluster", f"test-{tmp_path.name}",
    ]  # fmt: skip


def assert_one_line(output: str, program: str, *expected: str) -> None:
    """Exactly one line says ``<program>: cannot ...``, containing every ``expected``."""
    for noise in NOISE:
        assert noise not in output, output[-4000:]
    lines = [line for line in output.splitlines() if f"{program}: cannot " in line]
    assert len(lines) == 1, output[-4000:]
    for text in expected:
        assert text in lines[0], lines[0]


@contextmanager
def held_tcp() -> Iterator[int]:
    """A loopback TCP port this test listens on for as long as the block runs."""
    with socket.create_server(("127.0.0.1", 0)) as held:
        yield held.getsockname()[1]


@contextmanager
def held_udp() -> Iterator[int]:
    """A loopback UDP port bound without SO_REUSEADDR/SO_REUSEPORT: nobody may share it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.mark.parametrize("role", ["IRC", "peer", "status"])
def test_a_tcp_port_in_use_stops_the_node_with_one_line(tmp_path: Path, role: str) -> None:
    irc, peer, status = free_ports(3)
    with held_tcp() as taken:
        ports = {"IRC": irc, "peer": peer, "status": status} | {role: taken}
        args = node_args(tmp_path, irc=ports["IRC"], peer=ports["peer"],
                         status=ports["status"], udp=free_udp_port())  # fmt: skip
        code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot listen on {role} tcp:{taken}:interface=127.0.0.1",
                    ": address already in use")  # fmt: skip


def test_the_websocket_port_in_use_stops_the_node_with_one_line(tmp_path: Path) -> None:
    irc, peer, status = free_ports(3)
    with held_tcp() as taken:
        args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
        websocket = f"tcp:{taken}:interface=127.0.0.1"
        code, output = run("chatnode", [*args, "--websocket", websocket], tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot listen on --websocket {websocket}",
                    ": address already in use")  # fmt: skip


def test_the_peer_port_in_use_with_peer_tls(tmp_path: Path) -> None:
    irc, status = free_ports(2)
    with held_tcp() as taken:
        pki.init_ca(tmp_path / "pki")
        pki.issue_node(tmp_path / "pki", f"127.0.0.1:{taken}", tmp_path / "data" / "tls", days=1)
        args = node_args(tmp_path, irc=irc, peer=taken, status=status, udp=free_udp_port())
        args.remove("--insecure-peers")
        code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot listen on peer tcp:{taken}:", "already in use")


def test_the_discovery_port_in_use_stops_the_node_with_one_line(tmp_path: Path) -> None:
    irc, peer, status = free_ports(3)
    with held_udp() as taken:
        args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=taken)
        code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot listen on discovery udp:{taken}: address "
                    "already in use")  # fmt: skip


def test_an_irc_port_out_of_range_stops_the_node_with_one_line(tmp_path: Path) -> None:
    """``tcp:99999`` passes option parsing (the endpoint parser takes any integer) and
    fails only at bind time."""
    irc, peer, status = free_ports(3)
    args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
    args[args.index(f"tcp:{irc}:interface=127.0.0.1")] = "tcp:99999:interface=127.0.0.1"
    code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", "cannot listen on IRC tcp:99999:interface=127.0.0.1: ",
                    "port must be 0-65535")  # fmt: skip


def test_an_ssl_irc_endpoint_without_its_key_file_is_one_line(tmp_path: Path) -> None:
    """Twisted reads an ssl: endpoint's files while parsing its description."""
    irc, peer, status = free_ports(3)
    args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
    missing = tmp_path / "missing.pem"
    args[args.index(f"tcp:{irc}:interface=127.0.0.1")] = f"ssl:{irc}:privateKey={missing}"
    code, output = run("chatnode", args, tmp_path)
    assert code == 1
    assert "Traceback" not in output and str(missing) in output.strip().splitlines()[-1]


@pytest.mark.parametrize("obstacle", ["data dir is a file", "parent is a file"])
def test_an_unusable_data_dir_stops_the_node_with_one_line(tmp_path: Path, obstacle: str) -> None:
    """Root (as the tests run here) ignores permission bits, so the obstacles are files
    standing where directories must be; the check is the same file creation that a
    permission or a read-only file system would refuse."""
    irc, peer, status = free_ports(3)
    args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
    data = tmp_path / "data"
    if obstacle == "data dir is a file":
        data.write_text("not a directory\n")
    else:
        (tmp_path / "file").write_text("not a directory\n")
        data = tmp_path / "file" / "data"
        args[args.index("--data-dir") + 1] = str(data)
    args += ["--secret-file", str(tmp_path / "cluster.secret")]
    code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot use data directory {data}: not a directory")


def test_a_raft_log_that_is_not_a_database_stops_the_node_with_one_line(tmp_path: Path) -> None:
    irc, peer, status = free_ports(3)
    args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
    raft = tmp_path / "data" / "raft"
    raft.mkdir(parents=True)
    (raft / "raft.sqlite3").write_bytes(b"\x00garbage, not SQLite" * 100)
    code, output = run("chatnode", args, tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot open raft storage at {raft}: ",
                    "not a database")  # fmt: skip


def test_an_unreadable_cluster_secret_stops_the_node_with_one_line(tmp_path: Path) -> None:
    irc, peer, status = free_ports(3)
    args = node_args(tmp_path, irc=irc, peer=peer, status=status, udp=free_udp_port())
    directory = tmp_path / "a-directory"
    directory.mkdir()
    code, output = run("chatnode", [*args, "--secret-file", str(directory)], tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatnode", f"cannot read the cluster secret {directory}: "
                    "is a directory")  # fmt: skip


def test_the_gateway_port_in_use_stops_the_gateway_with_one_line(tmp_path: Path) -> None:
    with held_tcp() as taken:
        listen = f"tcp:{taken}:interface=127.0.0.1"
        code, output = run("chatgateway", ["--listen", listen, "--join", "127.0.0.1:1"], tmp_path)
    assert code == 1, output[-4000:]
    assert_one_line(output, "chatgateway", f"cannot listen on IRC {listen}: address already in use")
