"""IRCv3 ``draft/multiline``: a message of several lines, sent and received as a batch.

The chat core knows a multiline message as one PRIVMSG or NOTICE whose text holds line
breaks: that is what goes through the log, into history (kept whole, with one msgid) and
to plugins. Lines are an IRC matter, so both ends of the cutting live here:

- :class:`Collector` gathers a client's ``BATCH +ref draft/multiline <target>`` and the
  PRIVMSGs tagged with its reference into that one message, within the advertised
  limits (``draft/multiline-concat`` joins a line to the one before without a break);
- :func:`lines_for` cuts a multiline message back into what one client receives: the
  batch, for a client with ``draft/multiline`` and ``batch``; else one message a line,
  empty lines left out, the msgid on the first only (it is the whole message's).

A line too long for one IRC line is cut with ``draft/multiline-concat`` on the pieces
after the first, so a client shows the text as it was sent.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

from twistedchat.chat.limits import MULTILINE_MAX_BYTES, MULTILINE_MAX_LINES
from twistedchat.wire.message import Message

MULTILINE_CAP = "draft/multiline"
CONCAT_TAG = "draft/multiline-concat"
#: The capability's value in ``CAP LS 302``.
CAP_VALUE = f"max-bytes={MULTILINE_MAX_BYTES},max-lines={MULTILINE_MAX_LINES}"
#: The longest text one line of a batch carries (a 512-byte line less room for its
#: source, command, target and tags before the body).
LINE_TEXT = 350
MESSAGE_COMMANDS = frozenset({"PRIVMSG", "NOTICE"})


def is_multiline(message: Message) -> bool:
    """Whether ``message`` is a multiline PRIVMSG or NOTICE (its text has a line break)."""
    return (
        message.command in MESSAGE_COMMANDS
        and len(message.params) == 2
        and "\n" in message.params[1]
    )


def lines_for(message: Message, caps: Set[str]) -> list[Message]:
    """The multiline ``message`` as a client with ``caps`` receives it (see the module)."""
    command, (target, text) = message.command, message.params
    tags = dict(message.tags)
    outer = tags.pop("batch", None)  # a chathistory batch it is replayed in
    if MULTILINE_CAP not in caps or "batch" not in caps:
        lines = [line for line in text.split("\n") if line]
        first: list[Message] = []
        rest = {k: v for k, v in tags.items() if k != "msgid"}
        if outer is not None:
            tags["batch"] = rest["batch"] = outer
        for i, line in enumerate(lines):
            first.append(Message(command, (target, line), message.source, tags if i == 0 else rest))
        return first
    ref = "ml" + tags.get("msgid", "0")
    opening = dict(tags)
    closing: dict[str, str] = {}
    if outer is not None:
        opening["batch"] = closing["batch"] = outer
    body = [
        Message(command, (target, piece), message.source,
                {"batch": ref, CONCAT_TAG: ""} if concat else {"batch": ref})
        for piece, concat in _pieces(text)
    ]  # fmt: skip
    return [
        Message("BATCH", (f"+{ref}", MULTILINE_CAP, target), message.source, opening),
        *body,
        Message("BATCH", (f"-{ref}",), message.source, closing),
    ]


def _pieces(text: str) -> list[tuple[str, bool]]:
    """Each line of ``text``, cut to :data:`LINE_TEXT` bytes, with whether it joins the
    piece before it (``draft/multiline-concat``)."""
    pieces: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        data = line.encode()
        if len(data) <= LINE_TEXT:
            pieces.append((line, False))
            continue
        start, concat = 0, False
        while start < len(data):
            end = min(start + LINE_TEXT, len(data))
            while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
                end -= 1
            pieces.append((data[start:end].decode(), concat))
            start, concat = end, True
    return pieces


class MultilineError(Exception):
    """A batch the spec's limits or rules refuse: ``code`` and its params for ``FAIL BATCH``."""

    def __init__(self, code: str, *params: str, text: str):
        super().__init__(text)
        self.code, self.params, self.text = code, params, text

    def fail(self) -> Message:
        return Message("FAIL", ("BATCH", self.code, *self.params, self.text))


@dataclass(slots=True)
class Collector:
    """One client's open ``draft/multiline`` batch: its reference, target and tags (the
    label and client-only tags of its BATCH line), and the lines so far."""

    ref: str
    target: str
    tags: dict[str, str]
    command: str = ""
    parts: list[str] = field(default_factory=list)
    size: int = 0
    refused: bool = False  # a line broke a rule: the batch is dropped at its end

    @property
    def full(self) -> bool:
        """Whether another line would be past the line limit."""
        return len(self.parts) >= MULTILINE_MAX_LINES

    def add(self, message: Message) -> None:
        """Take one line of the batch; raises :class:`MultilineError` if it may not be."""
        if message.command not in MESSAGE_COMMANDS or len(message.params) < 2:
            raise MultilineError("MULTILINE_INVALID", text="Only PRIVMSG or NOTICE in a batch")
        if self.command and message.command != self.command:
            raise MultilineError("MULTILINE_INVALID", text="PRIVMSG and NOTICE mixed")
        if message.params[0] != self.target:
            raise MultilineError("MULTILINE_INVALID_TARGET", self.target, message.params[0],
                                 text="A batch has one target")  # fmt: skip
        if len(self.parts) >= MULTILINE_MAX_LINES:
            raise MultilineError("MULTILINE_MAX_LINES", str(MULTILINE_MAX_LINES),
                                 text="Too many lines")  # fmt: skip
        text = message.params[1]
        self.size += len(text.encode())
        if self.size > MULTILINE_MAX_BYTES:
            raise MultilineError("MULTILINE_MAX_BYTES", str(MULTILINE_MAX_BYTES),
                                 text="Too many bytes")  # fmt: skip
        self.command = message.command
        if CONCAT_TAG in message.tags and self.parts:
            self.parts[-1] += text
        else:
            self.parts.append(text)

    def message(self) -> Message:
        """The whole message, for the log; raises :class:`MultilineError` if empty."""
        text = "\n".join(self.parts)
        if not text.strip("\n"):
            raise MultilineError("MULTILINE_INVALID", text="An empty batch")
        return Message(self.command, (self.target, text), None, self.tags)
