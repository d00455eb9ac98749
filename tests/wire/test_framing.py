"""Line framing of the client byte stream."""

from __future__ import annotations

import pytest

from twistedchat.wire.framing import FrameTooLong, LineFramer


def test_lines_split_at_any_byte_boundary() -> None:
    stream = b"NICK a\r\nUSER a 0 * :A\nPING x\r\n"
    for cut in range(len(stream) + 1):
        framer = LineFramer()
        lines = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert lines == [b"NICK a", b"USER a 0 * :A", b"PING x"]


def test_overlong_line_is_dropped_and_the_stream_recovers() -> None:
    framer = LineFramer(max_line=20)
    with pytest.raises(FrameTooLong):
        framer.feed(b"OK 1\r\n" + b"x" * 50)
    assert framer.feed(b"") == [b"OK 1"]  # completed lines are not lost
    assert framer.feed(b"still the long line\r\nOK 2\r\n") == [b"OK 2"]


def test_overlong_line_in_one_chunk() -> None:
    framer = LineFramer(max_line=20)
    with pytest.raises(FrameTooLong):
        framer.feed(b"y" * 40 + b"\r\nOK\r\n")
    assert framer.feed(b"") == [b"OK"]


def test_buffer_stays_bounded_while_discarding() -> None:
    framer = LineFramer(max_line=20)
    with pytest.raises(FrameTooLong):
        framer.feed(b"z" * 100)
    for _ in range(100):
        assert framer.feed(b"z" * 100) == []  # reported once, memory stays small
        assert len(framer._buffer) <= 21
