"""Wildcard masks (``*`` and ``?``) as used by bans and WHO, compared under rfc1459 casefolding."""

from __future__ import annotations

from twistedchat.wire.casemap import casefold

#: Longest ban mask accepted. A ban is matched against every joiner and speaker, so its
#: length bounds the worst-case cost of :func:`glob_match` (quadratic in the lengths).
MAX_MASK_LENGTH = 128


def glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``, case-insensitively (rfc1459).

    Backtracks only to the last ``*`` seen, which is enough for ``*``/``?`` globs and keeps
    a hostile pattern like ``*a*a*a*a*b`` at O(len(pattern) * len(text)) instead of the
    exponential time a naive recursive (or regex) matcher can take.
    """
    p, t = casefold(pattern), casefold(text)
    pi = ti = 0
    star = -1
    resume = 0
    while ti < len(t):
        if pi < len(p) and p[pi] == "*":
            star, resume = pi, ti
            pi += 1
        elif pi < len(p) and (p[pi] == "?" or p[pi] == t[ti]):
            pi += 1
            ti += 1
        elif star >= 0:
            resume += 1
            pi, ti = star + 1, resume
        else:
            return False
    while pi < len(p) and p[pi] == "*":
        pi += 1
    return pi == len(p)


def normalize_ban(mask: str) -> str:
    """Complete a ban mask to ``nick!user@host`` the way ircds do.

    ``nick`` means ``nick!*@*``, ``user@host`` means ``*!user@host`` and ``nick!user`` means
    ``nick!user@*``, so the stored mask always matches against a full user prefix.
    """
    front, at, host = mask.rpartition("@")
    if not at:
        front, host = mask, "*"
    if "!" in front:
        nick, _, user = front.partition("!")
    elif at:
        nick, user = "*", front
    else:
        nick, user = front, "*"
    return f"{nick or '*'}!{user or '*'}@{host or '*'}"
