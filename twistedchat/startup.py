"""Start-up failures of ``twistd chatnode`` and ``twistd chatgateway``: one line, exit 1.

An operator whose port is taken or whose data directory is unusable needs to read what
failed, where, and the OS's reason, in one line::

    chatnode: cannot listen on IRC tcp:6667:interface=127.0.0.1: address already in use

not a traceback followed by Twisted's "Unhandled error in Deferred". Each start-up step
runs inside :func:`step`, which turns the errors an operator can cause (OS errors, ports,
bad endpoint values, storage) into a :class:`StartupError` carrying that line; anything
else is a bug and keeps its traceback. :func:`abort_start` then ends the process.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from OpenSSL import SSL
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python.failure import Failure

from twistedchat.raft.storage import StorageError

log = Logger()

#: What a start-up step may raise because of its environment or configuration, rather
#: than a bug: ports, files, endpoint values the parser let through (``tcp:99999`` is an
#: OverflowError at bind time), certificates, the SQLite store.
OPERATOR_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    CannotListenError,
    OverflowError,
    ValueError,
    sqlite3.Error,
    SSL.Error,
    StorageError,
)


class StartupError(Exception):
    """A start-up step failed for a reason the operator can fix; ``str()`` says it all."""


def reason(error: BaseException) -> str:
    """The OS's words for what went wrong (``address already in use``), else the message.

    ``CannotListenError`` hides the OS error in ``socketError``; its own text repeats the
    address, which the caller already names as the endpoint string the operator gave.
    """
    if isinstance(error, CannotListenError) and isinstance(error.socketError, BaseException):
        error = error.socketError
    if isinstance(error, OSError) and error.errno is not None:
        text = os.strerror(error.errno)
        return text[:1].lower() + text[1:]
    return str(error) or type(error).__name__


@contextmanager
def step(what: str) -> Iterator[None]:
    """Run a start-up step; an operator error becomes ``StartupError("<what>: <reason>")``.

    A :class:`StorageError` already is such a line (it names the store and its error), so
    it is kept as it is.
    """
    try:
        yield
    except StorageError as error:
        raise StartupError(str(error)) from error
    except OPERATOR_ERRORS as error:
        raise StartupError(f"{what}: {reason(error)}") from error


def abort_start(program: str, failure: Failure) -> NoReturn:
    """Say why ``program`` cannot start, in one log line, and exit with status 1 now.

    ``os._exit`` rather than stopping the reactor: the failure may come before the reactor
    runs (``reactor.stop()`` then raises ``ReactorNotRunning``), twistd has no way to exit
    non-zero after a clean stop, and the graceful stop path (drain clients, hand over
    leadership, leave the cluster) is for a node that joined, which this one never did. A
    node that failed to start has served no one and acknowledged nothing; what it opened
    (SQLite in WAL mode, sockets) the kernel closes. Log observers flush every event, so
    the line is out before the process ends.
    """
    if isinstance(failure.value, StartupError):
        log.critical("{program}: {line}", program=program, line=str(failure.value))
    else:  # a bug, not the operator's doing: its traceback is worth seeing
        log.failure("{program}: cannot start: {line}", failure, program=program,
                    line=failure.getErrorMessage())  # fmt: skip
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(1)


def usable_directory(path: Path) -> None:
    """Create ``path`` if needed and check that files can be made in it; raise OSError if not.

    SQLite would fail later with "unable to open database file", which names no cause; a
    file created (and dropped at once) here gets the OS's reason: permission denied, a
    read-only file system, or a file standing where the directory should be.
    """
    if path.exists() and not path.is_dir():  # mkdir would say "file exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
        pass
