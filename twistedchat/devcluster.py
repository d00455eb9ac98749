"""``make run``: a 3-node twistedchat cluster on loopback, logs to this terminal.

Node 1 serves IRC on 127.0.0.1:6667 (nodes 2 and 3 on 6668 and 6669), so an IRC client can
join at once. Ctrl-C stops every node cleanly (the leader hands over leadership first).
Once every node names the same leader it prints the irssi and WeeChat commands that make
the nodes one network for a client (SASL, a short reconnect: README, "Connecting IRC
clients"), with their addresses, and the URLs of the web client (node N's web endpoint
is 127.0.0.1:8079+N) and of the dashboard.

Peer links use mutual TLS: the first run creates a cluster CA in DATA-ROOT/ca/ and a
certificate for every node in DATA-ROOT/nodeN/tls/ (the node's default --peer-tls-dir),
and later runs issue new ones only where a certificate is missing or no longer fits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import IO

from twistedchat.discovery.secret import load_or_create_secret
from twistedchat.security import pki

#: The bundled plugins the embedded default runs (``!ping`` in any channel).
DEFAULT_PLUGINS = ("chatlog", "bots", "groups")


def peer_port(index: int, base: int) -> int:
    return base + 1000 + index - 1


def status_port(index: int, base: int) -> int:
    return base + 2000 + index - 1


def web_port(index: int, base: int) -> int:
    """The web endpoint (web client, IRC over WebSocket): 8080, 8081, ... by default."""
    return base + 1413 + index - 1


def ensure_certificates(size: int, data_root: Path, base: int) -> None:
    """The cluster CA and one certificate per node, for mutual TLS between the nodes."""
    for index in range(1, size + 1):
        node_id = f"127.0.0.1:{peer_port(index, base)}"
        tls_dir = data_root / f"node{index}" / pki.TLS_DIR
        if pki.ensure_node_files(data_root, node_id, tls_dir):
            print(f"twistedchat: certificate for {node_id} issued in {tls_dir}", flush=True)


def node_command(
    index: int, size: int, data_root: Path, base: int, plugins: tuple[str, ...] = ()
) -> list[str]:
    """The ``twistd chatnode`` command line of node ``index`` (1-based) of ``size``.

    No node is told another's address: they find each other by broadcast on loopback.
    Their certificates are in their data dirs (see :func:`ensure_certificates`).
    """
    return [
        str(Path(sys.executable).with_name("twistd")), "-n", "--pidfile=", "chatnode",
        "--data-dir", str(data_root / f"node{index}"),
        "--irc", f"tcp:{base + index - 1}:interface=127.0.0.1",
        "--peer", f"tcp:{peer_port(index, base)}:interface=127.0.0.1",
        "--status", f"tcp:{status_port(index, base)}:interface=127.0.0.1",
        "--websocket", f"tcp:{web_port(index, base)}:interface=127.0.0.1",
        "--bootstrap-expect", str(size),
        "--secret-file", str(data_root / "cluster.secret"),
        *(option for name in plugins for option in ("--plugin", name)),
    ]  # fmt: skip


#: The name the printed client set-up gives the cluster (irssi's network, WeeChat's server).
NETWORK = "twistedchat"

#: Seconds a client waits before it reconnects to the next node (both clients' minimum).
RECONNECT_DELAY = 1


def irssi_commands(
    addresses: list[tuple[str, int]],
    nick: str = "NICK",
    password: str = "PASSWORD",
    network: str = NETWORK,
) -> list[str]:
    """irssi commands that make the cluster one network: every node a server of it, SASL
    PLAIN as the account ``nick``. When its node dies, irssi tries the network's other
    servers in turn at once, and its login takes back the session that held its nick
    (same channels, no QUIT or JOIN for others); ``server_reconnect_time`` (irssi's own,
    for every network; 300 s by default) is the wait after a round in which none
    answered."""
    return [
        f"/set server_reconnect_time {RECONNECT_DELAY}",
        f"/network add -nick {nick} -sasl_mechanism PLAIN -sasl_username {nick}"
        f" -sasl_password {password} {network}",
        *(f"/server add -network {network} {host} {port}" for host, port in addresses),
        f"/connect {network}",
    ]


def weechat_commands(
    addresses: list[tuple[str, int]],
    nick: str = "NICK",
    password: str = "PASSWORD",
    server: str = NETWORK,
) -> list[str]:
    """WeeChat commands for the same: one server of every node's address (WeeChat moves to
    the next address when one refuses), SASL PLAIN, reconnect after ``RECONNECT_DELAY`` s."""
    listed = ",".join(f"{host}/{port}" for host, port in addresses)
    return [
        f"/server add {server} {listed} -notls -nicks={nick} -username={nick}"
        f" -sasl_mechanism=plain -sasl_username={nick} -sasl_password={password}"
        f" -autoreconnect_delay={RECONNECT_DELAY}",
        f"/connect {server}",
    ]


def client_setup(addresses: list[tuple[str, int]]) -> list[str]:
    """What ``make run`` prints once the cluster is up: how to connect irssi and WeeChat
    to all of its nodes at once, to paste with your nick and password filled in."""
    host, port = addresses[0]
    return [
        "twistedchat: to connect an IRC client to every node at once (it moves to another",
        "twistedchat: node when its own dies, and keeps its nick and channels), register an",
        f"twistedchat: account once (connect to {host}:{port} as NICK and say",
        "twistedchat: /msg NickServ REGISTER PASSWORD), then, with NICK and PASSWORD filled in:",
        "twistedchat: irssi:",
        *(f"    {command}" for command in irssi_commands(addresses)),
        "twistedchat: WeeChat:",
        *(f"    {command}" for command in weechat_commands(addresses)),
        "twistedchat: or, for any other client, run the gateway "
        "(.venv/bin/twistd -n --pidfile= chatgateway) and connect to 127.0.0.1:6600.",
    ]


def browser_setup(web_ports: list[int], status_ports: list[int]) -> list[str]:
    """What ``make run`` prints for browsers: the web client and the dashboard."""
    others = ", ".join(f"http://127.0.0.1:{port}/" for port in web_ports[1:])
    return [
        f"twistedchat: web client: http://127.0.0.1:{web_ports[0]}/"
        + (f" (or any node's: {others})" if others else ""),
        f"twistedchat: dashboard: http://127.0.0.1:{status_ports[0]}/dashboard",
    ]


def cluster_is_up(status_ports: list[int]) -> bool:
    """Every node answers ``/status`` and names the same leader."""
    leaders = set()
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy
    for port in status_ports:
        try:
            url = f"http://127.0.0.1:{port}/status"
            with direct.open(url, timeout=1) as response:
                leaders.add(json.load(response).get("leader"))
        except (OSError, ValueError):
            return False
    return len(leaders) == 1 and None not in leaders


def _relay(prefix: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{prefix} {line.decode(errors='replace')}")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--base-port", type=int, default=6667)
    parser.add_argument("--data-root", type=Path, default=Path("chatnode-data"))
    parser.add_argument(
        "--plugin", action="append", help=f"plugins to enable (default: {DEFAULT_PLUGINS})"
    )
    args = parser.parse_args(argv)
    plugins = tuple(args.plugin) if args.plugin else DEFAULT_PLUGINS

    load_or_create_secret(args.data_root / "cluster.secret", create=True)
    try:
        ensure_certificates(args.nodes, args.data_root, args.base_port)
    except pki.PKIError as error:
        print(f"twistedchat: cannot set up peer TLS: {error}", file=sys.stderr)
        return 1
    children: list[subprocess.Popen[bytes]] = []
    relays: list[threading.Thread] = []
    for index in range(1, args.nodes + 1):
        child = subprocess.Popen(
            node_command(index, args.nodes, args.data_root, args.base_port, plugins),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children one by one
        )
        children.append(child)
        assert child.stdout is not None
        relay = threading.Thread(target=_relay, args=(f"[node{index}]", child.stdout), daemon=True)
        relay.start()
        relays.append(relay)
    print(
        f"twistedchat: {args.nodes} nodes starting; IRC at 127.0.0.1:{args.base_port} "
        f"(status: http://127.0.0.1:{args.base_port + 2000}/status). Ctrl-C stops.",
        flush=True,
    )

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    status_ports = [status_port(i, args.base_port) for i in range(1, args.nodes + 1)]
    web_ports = [web_port(i, args.base_port) for i in range(1, args.nodes + 1)]
    announced = False
    while not stopping.is_set() and all(c.poll() is None for c in children):
        if not announced and cluster_is_up(status_ports):
            addresses = [("127.0.0.1", args.base_port + i) for i in range(args.nodes)]
            print("\n".join(client_setup(addresses)), flush=True)
            print("\n".join(browser_setup(web_ports, status_ports)), flush=True)
            announced = True
        stopping.wait(0.5)
    for child in children:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    for relay in relays:
        relay.join(timeout=1)
    print("twistedchat: all nodes stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
