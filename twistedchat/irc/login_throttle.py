"""Failed-login throttling, per account and per client address (as Ergo and Atheme do).

Pure: the caller passes the time (the connection reads its injected clock). A key (an
account, an operator name, an address) may fail ``limit`` times within ``window``
seconds; after that its attempts are refused without hashing until its oldest failure
in the window has aged out. Only failures count; a success clears nothing, so an
attacker cannot reset a count by logging in to an account of their own.

Memory is bounded: each key keeps at most ``limit`` timestamps, and at most ``keys``
keys are remembered, the least recently failed dropped first. The callers keep the
table from being flushed cheaply: failures count against an account only when the
account exists (its number is capped by the chat state), and against an address always.

Addresses in ``exempt`` (loopback by default, the same networks the connection limits
skip) are throttled by account only: a gateway or bouncer on 127.0.0.1 carries many
users, and one of them mistyping must not lock the others out. What stops a loopback
source from flooding logins is the account throttle, one check at a time per
connection, flood control and the hash pool's bounded queue.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from twistedchat.irc.admission import DEFAULT_EXEMPT

#: Failures per account (or operator name) and per address, and the window they count in.
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = 60.0
#: Keys remembered at most, per table.
MAX_KEYS = 10_000


class FailureWindow:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(self, limit: int, window: float, keys: int = MAX_KEYS) -> None:
        if limit < 1 or window <= 0 or keys < 1:
            raise ValueError("limit and keys must be at least 1, window positive")
        self.limit = limit
        self.window = window
        self.keys = keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        """Seconds before ``key`` may try again; 0 if it may now."""
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def failed(self, key: str, now: float) -> None:
        """Count a failure of ``key`` at ``now``."""
        times = self._failures.pop(key, None)
        if times is None:
            times = deque(maxlen=self.limit)
        times.append(now)
        self._failures[key] = times  # most recently failed last
        while len(self._failures) > self.keys:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A login refused without checking the password; ``seconds`` until it may be tried."""

    seconds: int

    def text(self) -> str:
        unit = "second" if self.seconds == 1 else "seconds"
        return f"Too many failed logins; wait {self.seconds} {unit} and try again"


class LoginThrottle:
    """The two tables a node keeps: failures per account and per client address.

    ``account`` keys are given by the caller already casefolded and namespaced (an IRC
    operator name is not an account: ``oper:root`` and ``account:root`` differ).
    """

    def __init__(
        self,
        account_limit: int = ACCOUNT_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: float = WINDOW,
        keys: int = MAX_KEYS,
        exempt: Iterable[str] = DEFAULT_EXEMPT,
    ) -> None:
        self.accounts = FailureWindow(account_limit, window, keys)
        self.addresses = FailureWindow(address_limit, window, keys)
        self._exempt = [ipaddress.ip_network(net) for net in exempt]

    def check(self, account: str, address: str, now: float) -> Refusal | None:
        """Whether an attempt for ``account`` from ``address`` is refused right now."""
        wait = self.accounts.wait(account, now)
        source = self._address_key(address)
        if source is not None:
            wait = max(wait, self.addresses.wait(source, now))
        return Refusal(max(1, math.ceil(wait))) if wait > 0 else None

    def failed(self, account: str | None, address: str, now: float) -> None:
        """Count a failed attempt: against ``account`` unless None (no such account),
        and against ``address`` unless it is exempt."""
        if account is not None:
            self.accounts.failed(account, now)
        source = self._address_key(address)
        if source is not None:
            self.addresses.failed(source, now)

    def _address_key(self, address: str) -> str | None:
        """The key an address counts under: an IPv4 address, the /64 of an IPv6 one (a
        single host usually holds a whole /64), None when exempt. An unparseable address
        (a UNIX socket, say) counts as itself."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if any(ip in network for network in self._exempt):
            return None
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)
