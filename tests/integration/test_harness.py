"""The harness cannot hide a crash: every process that ended otherwise than the test meant,
or logged a traceback, is reported; sentinels order absence checks after what came before.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.integration.harness import (
    Gateway,
    IRCClient,
    Node,
    new_node,
    sentinel,
    stop_and_check,
    wait_for,
)

#: A stand-in for a node: prints what it is told, then waits; exits 0 on SIGTERM.
FAKE = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(sys.argv[1], flush=True)
if sys.argv[2] == "exit":
    sys.exit(3)
if sys.argv[2] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(60)
"""


class FakeNode(Node):
    """A Node whose process is a short Python script (no chatnode), for checking the watch."""

    output = "hello"
    behaviour = "wait"

    def command(self) -> list[str]:
        return [sys.executable, "-c", FAKE, self.output, self.behaviour]


def fake(root: Path, name: str, output: str, behaviour: str = "wait") -> FakeNode:
    node = FakeNode(root / name, 0, 0, 0)
    node.output, node.behaviour = output, behaviour
    node.start()
    wait_for(lambda: output in node.log_text(), 30, "the fake node to print")
    return node


def forget(started: list[Node | Gateway], *processes: Node) -> None:
    """This test checked these itself: the fixture must not report them again."""
    for each in processes:
        started.remove(each)


def test_a_process_ended_by_the_test_is_no_fault(
    tmp_path: Path, watched_processes: list[Node | Gateway]
) -> None:
    killed, stopped, termed = (fake(tmp_path, n, "fine") for n in ("killed", "stopped", "termed"))
    killed.kill()
    stopped.stop()
    termed.signal(signal.SIGTERM)
    assert termed.process is not None and termed.process.wait(10) == 0
    assert stop_and_check([killed, stopped, termed]) is None
    forget(watched_processes, killed, stopped, termed)


def test_a_process_that_died_by_itself_is_reported_with_its_log(
    tmp_path: Path, watched_processes: list[Node | Gateway]
) -> None:
    node = fake(tmp_path, "crasher", "about to exit", "exit")
    wait_for(lambda: not node.alive(), 30, "the fake node to exit")
    report = stop_and_check([node])
    assert report is not None
    assert "node crasher" in report and "exited 3 by itself" in report
    assert "about to exit" in report  # the log tail is in the message
    # Restarted, the old process is still accounted for.
    node.output, node.behaviour = "second run", "wait"
    node.start()
    wait_for(lambda: "second run" in node.log_text(), 30, "the second run to print")
    node.stop()
    problems = node.watch.faults()
    assert len(problems) == 1 and "exited 3 by itself" in problems[0]
    forget(watched_processes, node)


def test_a_declared_exit_passes_and_a_missing_one_fails(
    tmp_path: Path, watched_processes: list[Node | Gateway]
) -> None:
    expected = FakeNode(tmp_path / "expected", 0, 0, 0)
    expected.output, expected.behaviour = "bad options", "exit"
    expected.expect_exit(3, "declared before it started")
    expected.start()
    wrong = fake(tmp_path, "wrong", "bad options", "exit")
    wrong.expect_exit(1, "declared after it started, with the wrong code")
    survivor = fake(tmp_path, "survivor", "fine")
    survivor.expect_exit(3, "meant to exit, but keeps running")
    wait_for(lambda: not expected.alive() and not wrong.alive(), 30, "both to exit")
    (why,) = survivor.watch.faults()
    assert "is still running, but the test expected exit 3" in why
    assert expected.watch.faults() == []
    (why,) = wrong.watch.faults()
    assert "exited 3, but the test expected exit 1" in why
    survivor.stop()
    (why,) = survivor.watch.faults()
    assert "exited 0, but the test expected exit 3" in why
    forget(watched_processes, expected, wrong, survivor)


@pytest.mark.parametrize(
    "line",
    [
        "Traceback (most recent call last):",
        "Unhandled error in Deferred:",
        "2026-01-01T00:00:00+0000 [twistedchat.node.hub#critical] handing out entry 7 failed",
    ],
)
def test_a_traceback_or_critical_line_is_a_fault_even_if_the_exit_is_clean(
    tmp_path: Path, watched_processes: list[Node | Gateway], line: str
) -> None:
    node = fake(tmp_path, "noisy", line)
    report = stop_and_check([node])
    assert report is not None and "logged 1 traceback or critical line(s)" in report
    assert line in report
    node.tolerate_log(line[:20], "this test logs it on purpose")
    assert node.watch.faults() == []
    forget(watched_processes, node)


def test_a_process_that_ignores_sigterm_is_reported(
    tmp_path: Path, watched_processes: list[Node | Gateway]
) -> None:
    node = fake(tmp_path, "stubborn", "ignoring SIGTERM", "ignore-term")
    node.stop(timeout=1)
    assert not node.alive()
    (why,) = node.watch.faults()
    assert "did not exit on SIGTERM" in why
    forget(watched_processes, node)


def test_a_real_node_with_bad_options_declares_its_exit(tmp_path: Path) -> None:
    node = new_node(tmp_path, "bad", ["--max-clients", "lots"])
    node.expect_exit(1, "bad start-up options")
    node.start()
    assert node.process is not None and node.process.wait(60) == 1
    # The fixture checks it at teardown: exit 1 was declared, so this test passes.


def test_the_sentinel_arrives_after_everything_said_before(single_node: Node) -> None:
    alice = IRCClient(single_node.irc_port, "alice", caps=["echo-message"])
    bob = IRCClient(single_node.irc_port, "bob")
    for client in (alice, bob):
        client.send("JOIN #s")
        client.expect(" 366 ")
    for i in range(5):
        alice.send(f"PRIVMSG #s :line {i}")
    text = sentinel(alice, "#s", bob, alice)
    assert text.startswith("sentinel-") and text != sentinel(bob, "#s", alice)
    said = [line.rsplit(" :", 1)[1] for line in bob.lines if " PRIVMSG #s :" in line]
    assert said == [f"line {i}" for i in range(5)] + [text]
    alice.close()
    bob.close()
