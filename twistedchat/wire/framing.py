"""Split a TCP byte stream into IRC lines, with a hard cap on line length.

Clients end lines with CR LF, but many send a bare LF; both are accepted. A line longer
than :data:`MAX_LINE` is discarded up to its end (so one bad line cannot desynchronise the
stream or hold memory) and reported once with :class:`FrameTooLong`.
"""

from __future__ import annotations

from twistedchat.wire.grammar import MAX_BODY, MAX_CLIENT_TAGS

#: Longest acceptable line without its terminator: a full tag section plus a full body.
MAX_LINE = 1 + MAX_CLIENT_TAGS + 1 + MAX_BODY


class FrameTooLong(Exception):
    """A line exceeded :data:`MAX_LINE`; complete lines seen so far wait for the next feed."""


class LineFramer:
    """Accumulate bytes and hand out complete lines (terminator stripped)."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._ready: list[bytes] = []
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every line completed so far.

        Raises :class:`FrameTooLong` when an over-long line was dropped during this call;
        the lines completed in the same call are then returned by the next ``feed``
        (``feed(b"")`` is fine), so nothing that was well-formed is lost.
        """
        overflowed = False
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            # The limit applies to the line without its terminator, whether CR LF or LF.
            if len(line) > self.max_line:
                overflowed = True
                continue
            self._ready.append(line)
        # An unfinished line may still hold the CR of its CR LF, hence the +1.
        if len(self._buffer) > self.max_line + 1:
            self._buffer.clear()
            if not self._discarding:
                self._discarding = overflowed = True
        if overflowed:
            raise FrameTooLong(f"line longer than {self.max_line} bytes")
        lines, self._ready = self._ready, []
        return lines
