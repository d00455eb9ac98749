"""Start-up failures as one line: the reason, the step, the directory check, the exit."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.error import CannotListenError
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure

from twistedchat import startup
from twistedchat.node.options import ChatNodeOptions
from twistedchat.node.plugin import serviceMaker
from twistedchat.raft.storage import StorageError
from twistedchat.startup import StartupError, abort_start, reason, step, usable_directory


def test_the_reason_is_the_os_error_of_a_port_that_cannot_be_had() -> None:
    in_use = OSError(errno.EADDRINUSE, "Address already in use")
    assert reason(CannotListenError("127.0.0.1", 6667, in_use)) == "address already in use"
    assert reason(PermissionError(errno.EACCES, "Permission denied")) == "permission denied"
    assert reason(OverflowError("bind(): port must be 0-65535.")) == (
        "bind(): port must be 0-65535."
    )


def test_a_step_names_what_failed_and_why() -> None:
    with pytest.raises(StartupError) as raised, step("cannot listen on IRC tcp:6667"):
        raise CannotListenError("", 6667, OSError(errno.EADDRINUSE, "in use"))
    assert str(raised.value) == "cannot listen on IRC tcp:6667: address already in use"


def test_a_storage_error_is_its_own_line_and_a_bug_is_left_alone() -> None:
    with pytest.raises(StartupError) as raised, step("cannot open the Raft log in x"):
        raise StorageError("cannot open raft storage at x: database is locked")
    assert str(raised.value) == "cannot open raft storage at x: database is locked"
    with pytest.raises(KeyError), step("cannot start"):
        raise KeyError("a bug keeps its traceback")


def test_usable_directory_creates_it_and_refuses_a_file_in_its_place(tmp_path: Path) -> None:
    usable_directory(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "file" / "below"):
        with pytest.raises(NotADirectoryError):
            usable_directory(path)


def test_usable_directory_tries_to_create_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores permission bits, so a refusing file system is simulated here."""

    def refuse(**_: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(startup.tempfile, "TemporaryFile", refuse)
    with pytest.raises(StartupError, match=r"data: read-only file system$"), step("data"):
        usable_directory(tmp_path)


def test_an_unreadable_motd_stops_twistd_before_logging_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text("hello\n")
    options = ChatNodeOptions()
    options.parseOptions(["--insecure-peers", "--data-dir", str(tmp_path), "--motd", str(motd)])

    def refuse(self: Path, **_: Any) -> str:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(SystemExit) as exited:
        serviceMaker.makeService(options)
    assert str(exited.value) == f"chatnode: cannot read --motd {motd}: permission denied"


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


class Exited(Exception):
    pass


def exit_code(monkeypatch: pytest.MonkeyPatch, failure: Failure) -> int:
    def fake_exit(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(startup.os, "_exit", fake_exit)
    with pytest.raises(Exited) as exited:
        abort_start("chatnode", failure)
    code: int = exited.value.args[0]
    return code


def test_abort_start_logs_one_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]]
) -> None:
    failure = Failure(StartupError("cannot listen on status tcp:8667: address already in use"))
    assert exit_code(monkeypatch, failure) == 1
    (event,) = [e for e in events if e.get("log_namespace") == "twistedchat.startup"]
    assert event["log_level"] == LogLevel.critical and "log_failure" not in event
    assert event["line"] == "cannot listen on status tcp:8667: address already in use"


def test_abort_start_keeps_the_traceback_of_a_bug(
    monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]]
) -> None:
    assert exit_code(monkeypatch, Failure(RuntimeError("oops"))) == 1
    (event,) = [e for e in events if e.get("log_namespace") == "twistedchat.startup"]
    assert event["log_failure"].check(RuntimeError) and event["line"] == "oops"
