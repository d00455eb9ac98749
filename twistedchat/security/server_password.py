"""The server password file (``--password-file``), read the same way by nodes and gateways.

A node asks every client for it (``PASS``); a gateway sends it to the nodes for each of
its clients, so it works in front of a cluster that has one.
"""

from __future__ import annotations

from pathlib import Path


def read_server_password(path: str) -> str:
    """The password in the file at ``path`` (surrounding whitespace dropped).

    Raises ValueError, with a message for the operator, if it cannot be read or is not
    one word (PASS takes one parameter: a space would cut it short).
    """
    try:
        password = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from None
    if not password or any(c.isspace() for c in password):
        raise ValueError("the password must be one word, not empty")
    return password
