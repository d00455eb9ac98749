"""``chatnode``: the cluster CA and node certificates for mutual TLS between nodes.

    chatnode ca init --data-dir DIR [--days N] [--name NAME]
    chatnode ca issue NODE_ID --data-dir DIR [--out TLS-DIR] [--days N] [--force]

``ca init`` creates ``DIR/ca/ca.key`` and ``DIR/ca/ca.pem``. ``ca issue`` signs a
certificate for NODE_ID (``HOST:PORT``, the node's ``--node-id``) and writes ``node.key``,
``node.pem`` and ``ca.pem`` to TLS-DIR (default ``DIR/tls``): the ``--peer-tls-dir`` of
the node, which defaults to its ``DATA-DIR/tls``. Errors are one line and exit 1 (bad
usage exits 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from twistedchat.security import pki
from twistedchat.security.hashing import new_hash

PROG = "chatnode"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {value!r}") from None
    if days <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of days, not {value!r}")
    return days


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog=PROG, description="Manage the certificates of a twistedchat cluster.")
    groups = top.add_subparsers(dest="group", metavar="{ca,oper-hash}", required=True,
                                parser_class=_Parser)  # fmt: skip
    groups.add_parser(
        "oper-hash",
        help="read an operator password on stdin, print the hash for --oper NAME:HASH",
    )
    ca = groups.add_parser("ca", help="the cluster CA and node certificates")
    commands = ca.add_subparsers(dest="command", metavar="{init,issue}", required=True,
                                 parser_class=_Parser)  # fmt: skip

    init = commands.add_parser("init", help="create the cluster CA in DATA-DIR/ca/")
    init.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./chatnode-data"),
        help="where the CA goes, as DATA-DIR/ca/ (default: ./chatnode-data)",
    )
    init.add_argument(
        "--days",
        type=_days,
        default=pki.DEFAULT_CA_DAYS,
        help=f"validity in days (default: {pki.DEFAULT_CA_DAYS})",
    )
    init.add_argument("--name", default=pki.DEFAULT_CA_NAME,
                      help=f"the CA's common name (default: {pki.DEFAULT_CA_NAME!r})")  # fmt: skip

    issue = commands.add_parser("issue", help="issue a certificate for one node")
    issue.add_argument(
        "node_id",
        metavar="NODE_ID",
        help="the node's id, HOST:PORT (its --node-id, by default its --peer "
        "address); HOST goes in subjectAltName as an IP or DNS name",
    )
    issue.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./chatnode-data"),
        help="the data dir holding the CA in ca/ (default: ./chatnode-data)",
    )
    issue.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for node.key, node.pem and ca.pem: the node's "
        "--peer-tls-dir (default: DATA-DIR/tls)",
    )
    issue.add_argument(
        "--days",
        type=_days,
        default=pki.DEFAULT_NODE_DAYS,
        help=f"validity in days (default: {pki.DEFAULT_NODE_DAYS}; never beyond the CA's)",
    )
    issue.add_argument("--force", action="store_true",
                       help="replace the node files already in the output directory")  # fmt: skip
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.group == "oper-hash":
        return _oper_hash()
    try:
        if args.command == "init":
            directory = pki.init_ca(args.data_dir, days=args.days, name=args.name)
            print(f"CA written to {directory}/ ({pki.CA_KEY}: keep it secret; {pki.CA_CERT})")
            print(f"next, for each node: {PROG} ca issue HOST:PORT --data-dir {args.data_dir} "
                  "--out NODE-DATA-DIR/tls")  # fmt: skip
        else:
            out = pki.issue_node(args.data_dir, args.node_id, args.out, days=args.days,
                                 force=args.force)  # fmt: skip
            print(
                f"certificate for node {args.node_id} written to {out}/ "
                f"({pki.NODE_CERT}, {pki.NODE_KEY}, {pki.NODE_CA})"
            )
            where = (f"--data-dir {out.parent} or --peer-tls-dir {out}"
                     if out.name == pki.TLS_DIR else f"--peer-tls-dir {out}")  # fmt: skip
            print(f"start that node with {where}; its node id (--node-id, else the "
                  f"--peer address) must be {args.node_id}")  # fmt: skip
    except pki.PKIError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _oper_hash() -> int:
    """Hash a password (scrypt, random salt, as a PHC string naming its cost) so the node's
    command line never holds it."""
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print(f"{PROG}: error: an operator password needs at least 8 characters",
              file=sys.stderr)  # fmt: skip
        return 1
    print(new_hash(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
