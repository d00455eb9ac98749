"""Who may open another connection: per-address limits on connections and their rate.

Pure (the caller passes the time): the factory asks :meth:`Admission.admit` when a client
connects and calls :meth:`Admission.left` when it goes. Loopback addresses are exempt by
default: they are local gateways, bouncers and tests, and a limit there would only hurt.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from twistedchat.ratelimit import KeyedBuckets

#: Addresses the limits do not apply to unless configured otherwise.
DEFAULT_EXEMPT = ("127.0.0.0/8", "::1/128")
#: Addresses whose connection rate is remembered at most (least recently seen dropped).
RATE_ENTRIES = 10_000


class Admission:
    """At most ``per_address`` open connections per address, opened at most ``burst`` at
    once and ``rate`` per second after that (``rate`` 0: no rate limit)."""

    def __init__(
        self,
        per_address: int,
        burst: int,
        rate: float,
        exempt: Iterable[str] = DEFAULT_EXEMPT,
    ) -> None:
        self.per_address = per_address
        self.exempt = [ipaddress.ip_network(net) for net in exempt]
        self.open: dict[str, int] = {}
        self._buckets = KeyedBuckets(burst, rate, RATE_ENTRIES)

    def admit(self, address: str, now: float) -> str | None:
        """Count a new connection from ``address``, or say why it is refused."""
        if self._exempt(address):
            return None
        if self.open.get(address, 0) >= self.per_address:
            return f"Too many connections from your address (at most {self.per_address})"
        if not self._buckets.allow(address, now):
            return "Connecting too fast; try again in a few seconds"
        self.open[address] = self.open.get(address, 0) + 1
        return None

    def left(self, address: str) -> None:
        """A connection :meth:`admit` counted has closed."""
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)

    def _exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.exempt)
