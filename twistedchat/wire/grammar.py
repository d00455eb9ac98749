"""Parse and serialise IRC lines (RFC 1459 framing with IRCv3 message tags).

Pure functions over bytes: the connection layer frames the byte stream into lines
(:mod:`twistedchat.wire.framing`) and hands each line here. Limits follow the Modern IRC
Client Protocol: at most 512 bytes for the message body including CRLF, and at most
8191 bytes for the tag section (4094 of which a client may use).
"""

from __future__ import annotations

from collections.abc import Mapping

from twistedchat.wire.message import EMPTY_TAGS, Message

#: Body bytes (source, command, parameters) a line may carry, excluding CRLF.
MAX_BODY = 510
#: Tag bytes a client may send, excluding the leading "@" and the trailing space.
MAX_CLIENT_TAGS = 4094
#: Tag bytes a server may send.
MAX_SERVER_TAGS = 8191
#: RFC 1459 allows at most 15 parameters.
MAX_PARAMS = 15

_TAG_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
_UNSAFE = str.maketrans({"\r": " ", "\n": " ", "\0": " "})
#: Server messages sent without a source: ERROR ends the connection, and servers send it
#: bare (modern.ircdocs.horse); some client libraries (bottom) cannot parse one with a prefix.
_UNSOURCED = frozenset({"ERROR"})
#: Commands whose last parameter is free text: sent in trailing form (":text") even when
#: one word, as servers traditionally do, because some clients and bots rely on it.
_TEXT_COMMANDS = frozenset(
    {
        "PRIVMSG",
        "NOTICE",
        "TAGMSG",
        "PING",
        "PONG",
        "ERROR",
        "QUIT",
        "PART",
        "TOPIC",
        "KICK",
        "AWAY",
        "WALLOPS",
    }
)


class ParseError(ValueError):
    """The line is not a well-formed IRC message; the text says what is wrong."""


class InvalidUtf8(ParseError):
    """The line is not valid UTF-8 (answered with ``FAIL <command> INVALID_UTF8``)."""


def parse_line(raw: bytes) -> Message:
    """Parse one line (without its CR LF) into a :class:`Message`.

    The command is upper-cased; tag values are unescaped. Raises :class:`ParseError`
    (or :class:`InvalidUtf8`) rather than guessing at a malformed line.
    """
    if b"\0" in raw:
        raise ParseError("NUL byte in line")
    if b"\r" in raw:
        raise ParseError("bare CR in line")
    tags_part = b""
    if raw.startswith(b"@"):
        tags_part, _, raw = raw.partition(b" ")
        if len(tags_part) - 1 > MAX_CLIENT_TAGS:
            raise ParseError("tag section too long")
    if len(raw) > MAX_BODY:
        raise ParseError("line too long")
    try:
        text = raw.decode("utf-8")
        tag_text = tags_part[1:].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUtf8("line is not valid UTF-8") from None
    return _parse_body(text.lstrip(" "), parse_tags(tag_text) if tags_part else EMPTY_TAGS)


def _parse_body(text: str, tags: Mapping[str, str]) -> Message:
    source = None
    if text.startswith(":"):
        source, _, text = text[1:].partition(" ")
        if not source:
            raise ParseError("empty source")
        text = text.lstrip(" ")
    command, _, rest = text.partition(" ")
    if not command:
        raise ParseError("no command")
    if not (command.isascii() and command.replace("_", "").replace("-", "").isalnum()):
        raise ParseError(f"bad command {command[:20]!r}")  # an unknown word is a 421, later
    params = _parse_params(rest)
    return Message(command.upper(), params, source, tags)


def _parse_params(rest: str) -> tuple[str, ...]:
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":") or len(params) == MAX_PARAMS - 1:
            params.append(rest[1:] if rest.startswith(":") else rest)
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return tuple(params)


def parse_tags(text: str) -> dict[str, str]:
    """Parse the tag section (without "@"); later duplicates win, as the spec says."""
    tags: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not _valid_tag_key(key):
            raise ParseError(f"bad tag key {key[:20]!r}")
        tags[key] = unescape_tag_value(value)
    return tags


def _valid_tag_key(key: str) -> bool:
    name = key[1:] if key.startswith("+") else key
    vendor, _, short = name.rpartition("/")
    return (
        bool(short)
        and all(c.isascii() and (c.isalnum() or c == "-") for c in short)
        and (not vendor or all(c.isascii() and (c.isalnum() or c in "-.") for c in vendor))
    )


def unescape_tag_value(value: str) -> str:
    """Undo IRCv3 tag escaping; an unknown escape drops the backslash, a lone one vanishes."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append(_TAG_UNESCAPE.get(following, following))
    return "".join(out)


def escape_tag_value(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def serialize(message: Message, server_name: str | None) -> bytes:
    """Encode ``message`` as one CR LF terminated line, ready for the wire.

    A message without a source is "from this server" (no prefix at all when
    ``server_name`` is None: what a client sends). CR, LF and NUL inside parameters
    are replaced by spaces so no parameter can inject a second line, and an over-long
    body is cut (on a character boundary) to fit 512 bytes. Middle parameters are made
    safe by :func:`_safe_middle` so the parameter count survives. Tags that would push
    the tag section past :data:`MAX_SERVER_TAGS` bytes are dropped whole (later, smaller
    ones may still fit): half a tag would carry a wrong value, or split a character.
    """
    source = message.source
    if source is None and message.command not in _UNSOURCED:
        source = server_name
    parts = [f":{source}", message.command] if source is not None else [message.command]
    params = [p.translate(_UNSAFE) for p in message.params]
    if params:
        *middle, last = params
        parts.extend(_safe_middle(p) for p in middle)
        needs_colon = (
            message.command in _TEXT_COMMANDS or not last or " " in last or last.startswith(":")
        )
        parts.append(f":{last}" if needs_colon else last)
    body = " ".join(parts).encode("utf-8")
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY].decode("utf-8", "ignore").encode("utf-8")
    tags: list[bytes] = []
    size = -1  # the first tag has no ";" before it
    for key, value in message.tags.items():
        tag = (f"{key}={escape_tag_value(value)}" if value else key).encode("utf-8")
        if size + 1 + len(tag) <= MAX_SERVER_TAGS:
            tags.append(tag)
            size += 1 + len(tag)
    if not tags:
        return body + b"\r\n"
    return b"@" + b";".join(tags) + b" " + body + b"\r\n"


def _safe_middle(param: str) -> str:
    """Make ``param`` one middle parameter on the wire, whatever it holds.

    A space would split it, an empty one would vanish, and a leading ":" would turn it
    into the trailing parameter, swallowing those after it (a channel key ":x" in
    ``324 nick #c +kl :x 5``). So spaces become "_", a leading ":" becomes "_" and an
    empty parameter is sent as "*": the value changes, but never the parameter count.
    """
    param = param.replace(" ", "_")
    if param.startswith(":"):
        param = "_" + param[1:]
    return param or "*"
