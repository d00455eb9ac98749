"""The masks of a channel's lists (+b, +e, +I): hostmasks and extbans, normalised and matched.

A mask is a hostmask (``nick!user@host``, completed by :func:`normalize_ban`) or an
extban in the charybdis/Solanum form ``$<type>[:<data>]`` (ISUPPORT ``EXTBAN=$,am``,
``ACCOUNTEXTBAN=a``; ``docs/decisions/0027-exceptions-and-extbans.md``):

- ``$a`` matches every user logged in to an account, ``$a:<mask>`` those logged in to an
  account matching ``<mask>`` (``*`` and ``?``, rfc1459 case). It may stand in any list.
- ``$m:<mask>`` is a mute: in +b it lets the users ``<mask>`` matches (a hostmask or an
  ``$a``) join but not speak; in +e it lifts mutes, and only mutes, from them. It means
  nothing in +I and is refused there.

The type letter is case-insensitive and stored in lower case. Matching is pure: a mask,
a user's ``nick!user@host`` and account decide it, so every replica agrees.
"""

from __future__ import annotations

from twistedchat.chat.masks import glob_match, normalize_ban

#: What begins an extban (the first half of ISUPPORT EXTBAN).
EXTBAN_PREFIX = "$"
#: Extbans matching users by something other than their hostmask.
MATCHING = "a"
#: Extbans changing what their list's entry does to the users their mask matches.
ACTING = "m"
#: Every extban type, sorted (the second half of ISUPPORT EXTBAN).
EXTBAN_TYPES = "".join(sorted(MATCHING + ACTING))
#: The list modes that take masks: bans, ban exceptions, invite exceptions.
LIST_MODES = "beI"

_MUTE = EXTBAN_PREFIX + "m:"
_ACCOUNT = EXTBAN_PREFIX + "a"


class InvalidMask(ValueError):
    """A mask no list may hold; the text says why (the last parameter of a 696)."""


def normalize_list_mask(letter: str, mask: str) -> str:
    """The stored form of ``mask`` for the list mode ``letter`` (``b``, ``e`` or ``I``).

    Raises :class:`InvalidMask` for an extban of a type this server does not know, a
    mute without a mask, a mute inside a mute, or a mute in +I.
    """
    kind, data = _split(mask)
    if kind != "m":
        return _matching(mask)
    if letter == "I":
        raise InvalidMask("A mute ($m) only means something in +b or +e")
    if not data:
        raise InvalidMask("A mute needs a mask: $m:<mask>")
    return _MUTE + _matching(data)


def _matching(mask: str) -> str:
    """A mask that says whom it matches: a completed hostmask, ``$a`` or ``$a:<mask>``."""
    kind, data = _split(mask)
    if kind is None:
        return normalize_ban(mask)
    if kind == "a":
        return f"{_ACCOUNT}:{data}" if data else _ACCOUNT
    raise InvalidMask("A mute ($m) takes a hostmask or an account ($a), not another mute")


def _split(mask: str) -> tuple[str | None, str]:
    """``(type, data)`` of an extban, ``(None, mask)`` of a hostmask."""
    if not mask.startswith(EXTBAN_PREFIX):
        return None, mask
    kind = mask[1:2].lower()
    if len(kind) != 1 or kind not in EXTBAN_TYPES or mask[2:3] not in ("", ":"):
        raise InvalidMask(
            f"Unknown extban type; this server knows {_ACCOUNT} (account) and "
            f"{EXTBAN_PREFIX}m (mute)"
        )
    return kind, mask[3:]


def is_mute(mask: str) -> bool:
    """Whether the stored ``mask`` is a mute (``$m:<mask>``)."""
    return mask.startswith(_MUTE)


def matches(mask: str, prefix: str, account: str | None) -> bool:
    """Whether the stored ``mask`` matches the user ``prefix`` logged in to ``account``.

    A mute matches the users its inner mask does; what it then does is the caller's
    business (:meth:`~twistedchat.chat.model.Channel.is_muted`). A mask beginning with
    ``$`` that is no extban known here matches nobody: no nick begins with ``$``, so such
    a ban, set before extbans existed, never matched anyone either.
    """
    if is_mute(mask):
        mask = mask[len(_MUTE) :]
    if not mask.startswith(EXTBAN_PREFIX):
        return glob_match(mask, prefix)
    if account is None:
        return False
    if mask == _ACCOUNT:
        return True
    return mask.startswith(_ACCOUNT + ":") and glob_match(mask[len(_ACCOUNT) + 1 :], account)
