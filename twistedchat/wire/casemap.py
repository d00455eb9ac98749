"""Case-insensitive comparison of nicks and channel names (CASEMAPPING=rfc1459).

rfc1459 treats ``[]\\~`` as the lower-case forms of ``{}|^``, because of the Scandinavian
origin of IRC. We advertise ``CASEMAPPING=rfc1459`` in RPL_ISUPPORT and fold with it
everywhere a name is used as a key.
"""

from __future__ import annotations

CASEMAPPING = "rfc1459"

_FOLD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~",
    "abcdefghijklmnopqrstuvwxyz{}|^",
)


def casefold(name: str) -> str:
    """Return the key under which ``name`` is stored and compared."""
    return name.translate(_FOLD)
