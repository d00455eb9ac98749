"""``twistd chatnode`` command-line options: a contract users and checks depend on."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import endpoints, reactor
from twisted.python import usage

from twistedchat import plugins
from twistedchat.chat import alwayson
from twistedchat.chat.passwords import is_password_hash
from twistedchat.discovery.udp import default_broadcast
from twistedchat.security import pki
from twistedchat.security.peertls import PeerTLS
from twistedchat.security.server_password import read_server_password

DEFAULT_IRC = "tcp:6667:interface=127.0.0.1"
DEFAULT_PEER = "tcp:7667:interface=127.0.0.1"
DEFAULT_STATUS = "tcp:8667:interface=127.0.0.1"
_HOST_PORT = re.compile(r"^(?P<host>[^\s:]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive integer, not {value!r}")
    return number


def _always_on_mode(value: str) -> str:
    if value not in alwayson.MODES:
        raise ValueError(f"must be one of {', '.join(alwayson.MODES)}, not {value!r}")
    return value


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"must be zero or a positive integer, not {value!r}")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError(f"must be a non-negative number, not {value!r}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be a positive number, not {value!r}")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError(f"must be a port number (1-65535), not {value!r}")
    return number


def endpoint_host_port(description: str) -> tuple[str, int]:
    """The (interface, port) a TCP/SSL server endpoint string listens on."""
    parts = description.split(":")
    kind = parts[0]
    if kind not in ("tcp", "ssl", "tcp6") or len(parts) < 2 or not parts[1].isdigit():
        raise usage.UsageError(f"cannot derive an address from endpoint {description!r}")
    host = "0.0.0.0"
    for part in parts[2:]:
        if part.startswith("interface="):
            host = part.split("=", 1)[1]
    return host, int(parts[1])


class ChatNodeOptions(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run one twistedchat node: an IRC server whose chat state is replicated with Raft "
        "across the nodes of a cluster."
    )

    optFlags = [
        ["list-plugins", None, "List the installed plugins and exit."],
        [
            "insecure-peers",
            None,
            "Plain TCP between nodes: no TLS, no check of who a peer is. For trusted "
            "networks and tests only.",
        ],
    ]

    optParameters = [
        ["data-dir", None, "./chatnode-data", "Directory for everything the node persists."],
        ["name", None, None, "Server name shown to clients (default: derived from host and port)."],
        ["network", None, "twistedchat", "Network name advertised in RPL_ISUPPORT."],
        ["cluster", None, "twistedchat", "Cluster name: peers of another cluster are refused."],
        ["peer", None, DEFAULT_PEER, "Endpoint string the Raft peer protocol listens on."],
        ["node-id", None, None, "This node's id in the cluster (default: HOST:PORT of --peer)."],
        [
            "peer-tls-dir",
            None,
            None,
            "Directory with node.pem, node.key and ca.pem for mutual TLS between nodes "
            "(default: DATA-DIR/tls; see `chatnode ca --help`).",
        ],
        [
            "status",
            None,
            DEFAULT_STATUS,
            "Endpoint string for the HTTP status endpoint (GET /status).",
        ],
        [
            "websocket",
            None,
            None,
            "Endpoint string for the node's web endpoint: IRC over WebSocket (IRCv3) and "
            "the bundled web client (e.g. tcp:8080:interface=127.0.0.1; ssl:... for wss).",
        ],
        [
            "websocket-url",
            None,
            None,
            "The ws:// or wss:// URL browsers reach --websocket at, when it is not the "
            "endpoint's own address (a reverse proxy, a unix: endpoint, a public name).",
        ],
        ["max-clients", None, 1024, "Refuse new clients beyond this many.", _positive_int],
        ["flood-burst", None, 10, "Lines a client may send at once.", _positive_int],
        [
            "flood-rate",
            None,
            2.0,
            "Lines per second per client after the burst; 0 turns flood control off.",
            _non_negative_float,
        ],
        [
            "max-per-address",
            None,
            16,
            "Open connections per client address (loopback is exempt).",
            _positive_int,
        ],
        [
            "connect-rate",
            None,
            1.0,
            "New connections per second per client address after a burst of 8; 0: no limit.",
            _non_negative_float,
        ],
        ["chanlimit", None, 50, "Channels one user may be in (CHANLIMIT).", _positive_int],
        [
            "targmax",
            None,
            4,
            "Targets of one PRIVMSG/NOTICE/JOIN/PART/KICK (TARGMAX).",
            _positive_int,
        ],
        [
            "registration-timeout",
            None,
            60.0,
            "Seconds a connection may take to register.",
            _positive_float,
        ],
        [
            "sendq",
            None,
            1 << 20,
            "Bytes queued for a client that does not read before it is dropped (SendQ).",
            _positive_int,
        ],
        [
            "min-password",
            None,
            8,
            "Characters an account password needs at least (REGISTER, NickServ REGISTER).",
            _positive_int,
        ],
        ["motd", None, None, "File whose lines are the message of the day."],
        [
            "election-timeout",
            None,
            400,
            "Minimum Raft election timeout in milliseconds.",
            _positive_int,
        ],
        [
            "discovery-port",
            None,
            7666,
            "UDP port for discovery broadcasts (shared by every node on a host).",
            _port,
        ],
        [
            "broadcast",
            None,
            None,
            "Broadcast address (default: that of the --peer interface; 127.255.255.255 on "
            "loopback).",
        ],
        [
            "secret-file",
            None,
            None,
            "Cluster secret authenticating discovery (default: DATA-DIR/cluster.secret, "
            "created on first start).",
        ],
        [
            "bootstrap-expect",
            None,
            1,
            "A new cluster forms once this many fresh nodes have found each other.",
            _positive_int,
        ],
        [
            "bootstrap-settle",
            None,
            1.5,
            "Seconds the set of fresh nodes must stay the same before they found a cluster.",
            _positive_float,
        ],
        [
            "max-voters",
            None,
            5,
            "Voting members at most; further nodes are learners.",
            _positive_int,
        ],
        [
            "dead-node-timeout",
            None,
            30.0,
            "Seconds unheard before the leader removes a node.",
            _positive_float,
        ],
        [
            "password-file",
            None,
            None,
            "File holding the server password: clients must send it with PASS to register.",
        ],
        [
            "status-token-file",
            None,
            None,
            "File holding a bearer token: /status then needs it, and POST /admin/... works.",
        ],
        [
            "plugin-config",
            None,
            None,
            "JSON file: {plugin name: {option: value}}; re-read on SIGHUP.",
        ],
        [
            "resume-grace",
            None,
            60.0,
            "Seconds a resumable session waits for its client to come back before it quits.",
            _positive_float,
        ],
        [
            "history-max",
            None,
            500,
            "CHATHISTORY: messages kept per channel or private conversation (0: none).",
            _non_negative_int,
        ],
        [
            "history-days",
            None,
            30,
            "CHATHISTORY and mail for offline accounts: days a message is kept.",
            _positive_int,
        ],
        [
            "always-on",
            None,
            "opt-in",
            "Sessions that stay in their channels without a client: off, opt-in (NickServ "
            "SET ALWAYS-ON ON), opt-out or mandatory.",
            _always_on_mode,
        ],
        [
            "always-on-days",
            None,
            30,
            "Days an always-on session without a client stays before it quits.",
            _positive_int,
        ],
        [
            "snapshot-every",
            None,
            10000,
            "Snapshot after this many applied entries (the log keeps half as many behind it).",
            _positive_int,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["irc"] = []
        self["join"] = []
        self["plugin"] = []
        self["oper"] = []
        self["websocket-origin"] = []

    def opt_websocket_origin(self, pattern: str) -> None:
        """Origin a page may also open IRC over WebSocket from, shell-style (e.g.
        https://*.example.org; * for any; repeatable), beside the cluster's own web
        endpoints, always allowed (so are clients that send no Origin: not browsers)."""
        if not pattern.strip():
            raise usage.UsageError(
                "--websocket-origin expects a pattern such as https://*.example.org"
            )
        self["websocket-origin"].append(pattern.strip())

    def opt_oper(self, entry: str) -> None:
        """NAME:HASH of an IRC operator; HASH from `chatnode oper-hash` (repeatable)."""
        name, _, hashed = entry.partition(":")
        if not name or not is_password_hash(hashed):
            raise usage.UsageError("--oper expects NAME:HASH, the hash from `chatnode oper-hash`")
        self["oper"].append((name, hashed))

    def opt_plugin(self, name: str) -> None:
        """Enable the installed plugin NAME (repeatable; see --list-plugins)."""
        self["plugin"].append(name)

    def opt_irc(self, description: str) -> None:
        """Endpoint string to serve IRC on (repeatable; default tcp:6667:interface=127.0.0.1)."""
        self["irc"].append(description)

    def opt_join(self, address: str) -> None:
        """HOST:PORT of a peer (its --peer address), announced to directly for networks
        that block broadcast (repeatable)."""
        if not _HOST_PORT.match(address):
            raise usage.UsageError(f"--join expects HOST:PORT, not {address!r}")
        self["join"].append(address)

    def postOptions(self) -> None:
        if self["list-plugins"]:
            print(_plugin_listing())
            raise SystemExit(0)
        self["plugins"] = _load_plugins(self)
        self["status-token"] = _status_token(self["status-token-file"])
        self["password"] = _server_password(self["password-file"])
        if not self["irc"]:
            self["irc"] = [DEFAULT_IRC]
        for name in ("peer", "status"):
            _check_endpoint(f"--{name}", self[name])
        if self["websocket"] is not None:
            _check_endpoint("--websocket", self["websocket"])
            _check_websocket_url(self["websocket"], self["websocket-url"])
        for description in self["irc"]:
            _check_endpoint("--irc", description)
        if self["node-id"] is None:
            host, port = endpoint_host_port(self["peer"])
            if host in ("0.0.0.0", "::", ""):
                raise usage.UsageError(
                    "--peer listens on every interface: give --node-id HOST:PORT that "
                    "other nodes can dial"
                )
            self["node-id"] = f"{host}:{port}"
        elif not _HOST_PORT.match(self["node-id"]):
            raise usage.UsageError(f"--node-id expects HOST:PORT, not {self['node-id']!r}")
        if self["broadcast"] is None:
            self["broadcast"] = default_broadcast(self["node-id"].rpartition(":")[0])
        if self["secret-file"] is None:
            self["secret-file"] = os.path.join(self["data-dir"], "cluster.secret")
        if self["name"] is None:
            host, port = endpoint_host_port(self["irc"][0])
            self["name"] = f"{'localhost' if host.startswith('127.') else host}.{port}"
        if self["motd"] is not None and not os.path.isfile(self["motd"]):
            raise usage.UsageError(f"--motd: no such file: {self['motd']}")
        if self["node-id"] in self["join"]:
            self["join"].remove(self["node-id"])
        self["peer-tls"] = _peer_tls(self)


def _peer_tls(options: ChatNodeOptions) -> PeerTLS | None:
    """The node's peer TLS settings, loaded and checked; None with --insecure-peers."""
    if options["peer"].startswith("ssl:"):
        raise usage.UsageError(
            "--peer: give a tcp: endpoint; peer links get their TLS from --peer-tls-dir"
        )
    if options["peer-tls-dir"] is None:
        options["peer-tls-dir"] = os.path.join(options["data-dir"], pki.TLS_DIR)
    if options["insecure-peers"]:
        return None
    directory, node_id = Path(options["peer-tls-dir"]), options["node-id"]
    if not pki.node_files_present(directory):
        data_dir = options["data-dir"]
        raise usage.UsageError(
            f"peer links need TLS, and {directory} holds no node.pem, node.key or ca.pem: "
            f"create them with `chatnode ca init --data-dir {data_dir}` (once per cluster) "
            f"and `chatnode ca issue {node_id} --data-dir {data_dir} --out {directory}`, "
            "or pass --insecure-peers for plain TCP between nodes"
        )
    try:
        return PeerTLS.load(directory, node_id)
    except pki.PKIError as error:
        raise usage.UsageError(f"--peer-tls-dir: {error}") from None


def _check_websocket_url(endpoint: str, url: str | None) -> None:
    """The web endpoint's published URL must be one a browser can use: given, or derived
    from a tcp:/ssl: endpoint's interface and port."""
    if url is None:
        if endpoint.split(":", 1)[0] not in ("tcp", "ssl"):
            raise usage.UsageError(
                f"--websocket {endpoint}: give --websocket-url ws://HOST:PORT/ (or wss://), "
                "the address browsers reach it at; it cannot be derived from this endpoint"
            )
        endpoint_host_port(endpoint)
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise usage.UsageError(f"--websocket-url: cannot read {url!r}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port == 0:
        raise usage.UsageError(
            f"--websocket-url expects ws://HOST[:PORT]/ or wss://..., not {url!r}"
        )


def _check_endpoint(option: str, description: str) -> None:
    try:
        endpoints.serverFromString(reactor, description)  # reads an ssl: endpoint's files
    except (ValueError, TypeError, KeyError, OSError) as error:
        raise usage.UsageError(f"{option}: bad endpoint {description!r}: {error}") from None


def _status_token(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise usage.UsageError(f"--status-token-file: {error}") from None
    if len(token) < 16:
        raise usage.UsageError("--status-token-file: the token needs at least 16 characters")
    return token


def _server_password(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return read_server_password(path)
    except ValueError as error:
        raise usage.UsageError(f"--password-file: {error}") from None


def _plugin_listing() -> str:
    found = plugins.installed()
    if not found:
        return "no twistedchat plugins are installed"
    return "\n".join(f"{name}  ({target})" for name, target in sorted(found.items()))


def plugin_config(path: str | None) -> dict[str, dict[str, Any]]:
    """The ``--plugin-config`` file: a JSON object of objects, one per plugin."""
    if path is None:
        return {}
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise usage.UsageError(f"--plugin-config: {error}") from None
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise usage.UsageError("--plugin-config: expected {plugin name: {option: value}}")
    return config


def _load_plugins(options: ChatNodeOptions) -> plugins.PluginHost:
    config = plugin_config(options["plugin-config"])
    try:
        return plugins.PluginHost.from_names(options["plugin"], options["data-dir"], config)
    except plugins.PluginError as error:
        raise usage.UsageError(f"--plugin: {error}") from None
