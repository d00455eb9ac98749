"""Per-node settings every IRC connection needs: names, limits, timers, the welcome burst."""

from __future__ import annotations

from dataclasses import dataclass

from twistedchat.irc.admission import DEFAULT_EXEMPT


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything a connection needs to know about the server it belongs to.

    Timers are in seconds of the injected clock. ``flood_rate`` of 0 turns flood control
    off (benchmarks and load tests); otherwise a client may send ``flood_burst`` lines at
    once and ``flood_rate`` lines per second after that, excess lines are delayed (fakelag)
    and a client that gets more than ``flood_backlog`` lines ahead is disconnected.
    """

    server_name: str
    network: str = "twistedchat"
    version: str = "twistedchat-0.1.0"
    created: str = ""
    isupport: tuple[str, ...] = ()
    motd: tuple[str, ...] | None = None
    max_clients: int = 1024
    flood_burst: int = 10
    flood_rate: float = 2.0
    flood_backlog: int = 20
    registration_timeout: float = 60.0
    ping_interval: float = 120.0
    ping_timeout: float = 60.0
    sendq_bytes: int = 1 << 20
    min_password: int = 8  # characters an account password needs (--min-password)
    server_password: str | None = None  # PASS every client must give (--password-file)
    # Writes of one client in the pipeline at once (each holds its encoded command until
    # applied): 256 lets a single fast sender keep the log busy while a batch commits (one
    # sender to 100 receivers on 1 node: 964k deliveries/s at 256, 489k at 64).
    max_writes_in_flight: int = 256
    extra_caps: frozenset[str] = frozenset()  # capabilities plugins add
    max_per_address: int = 16  # open connections per client address
    connect_burst: int = 8  # new connections per address at once...
    connect_rate: float = 1.0  # ...and per second after that (0: unlimited)
    limits_exempt: tuple[str, ...] = DEFAULT_EXEMPT  # networks the two limits skip
    operators: tuple[tuple[str, str], ...] = ()  # (name, scrypt hash) that OPER accepts
    sts_port: int | None = None  # the IRC-over-TLS port, advertised with the sts capability
    sts_duration: int = 30 * 24 * 3600  # seconds clients keep using TLS once they saw it
