"""What a valid nickname looks like (modern.ircdocs.horse, "Nicknames")."""

from __future__ import annotations

import re

# A nick must not start with a digit, '-', '#', '&', ':' or '$', and contains no
# spaces, commas, '*', '?', '!', '@' or '.'.
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")


def valid_nick(nick: str, nicklen: int) -> bool:
    """Whether ``nick`` may be used as a nickname on this server."""
    return 0 < len(nick) <= nicklen and _NICK.match(nick) is not None
