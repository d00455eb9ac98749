"""``make run``: a 3-node twistedchat cluster on loopback, logs to this terminal.

Node 1 serves IRC on 127.0.0.1:6667 (nodes 2 and 3 on 6668 and 6669), so an IRC client can
join at once. Ctrl-C stops every node cleanly (the leader hands over leadership first).

Peer links use mutual TLS: the first run creates a cluster CA in DATA-ROOT/ca/ and a
certificate for every node in DATA-ROOT/nodeN/tls/ (the node's default --peer-tls-dir),
and later runs issue new ones only where a certificate is missing or no longer fits.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from twistedchat.discovery.secret import load_or_create_secret
from twistedchat.security import pki

#: The bundled plugins the embedded default runs (``!ping`` in any channel).
DEFAULT_PLUGINS = ("chatlog", "bots", "groups")


def peer_port(index: int, base: int) -> int:
    return base + 1000 + index - 1


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
        "--status", f"tcp:{base + 2000 + index - 1}:interface=127.0.0.1",
        "--bootstrap-expect", str(size),
        "--secret-file", str(data_root / "cluster.secret"),
        *(option for name in plugins for option in ("--plugin", name)),
    ]  # fmt: skip


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
    while not stopping.is_set() and all(c.poll() is None for c in children):
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
