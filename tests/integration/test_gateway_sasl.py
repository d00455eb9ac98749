"""SASL through the gateway: an IRC client logs in to its account and stays logged in when
the node under its session dies.

A 3-node cluster and a ``twistd chatgateway``. Dana registers an account directly on a
node, then comes back through the gateway the way irssi logs in: the whole SASL exchange
first, and CAP END, NICK and USER only after the answer (a wrong password first gets 904
and registers without an account). The node the gateway chose is killed; what dana says
next must reach the channel carrying her account. Then irssi itself logs in the same way.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import Gateway, IRCClient, Node, free_ports, sentinel, wait_for
from tests.integration.terminal import Terminal
from tests.integration.test_gateway import joined

PASSWORD = "s3cret-enough"


def log_in(port: int, account: str, password: str) -> tuple[IRCClient, str]:
    """Connect to the gateway and send SASL PLAIN; returns the client and the answer."""
    client = IRCClient(port)
    client.send("CAP LS 302")
    client.send("CAP REQ :sasl")
    client.expect(" ACK ")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    payload = f"{account}\0{account}\0{password}".encode()
    client.send("AUTHENTICATE " + base64.b64encode(payload).decode())
    return client, client.expect(" 903 ", " 904 ", timeout=30)


def register(client: IRCClient, nick: str) -> None:
    client.send("CAP END")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.expect(" 001 ", timeout=30)
    client.expect(" 376 ", " 422 ")


def whois_account(client: IRCClient, nick: str) -> str | None:
    """The account WHOIS shows for ``nick`` (330), if any."""
    client.send(f"WHOIS {nick}")
    line = client.expect(" 330 ", " 318 ")
    if " 330 " not in line:
        return None
    client.expect(" 318 ")
    return line.split()[4]


@pytest.mark.integration
def account_then_gateway(node: Node, root: Path, why: str) -> Gateway:
    """Register the account ``dana`` on ``node`` and leave; then start a gateway that
    finds the cluster, for dana to log in through."""
    dana = IRCClient(node.irc_port, "dana")
    dana.send(f"REGISTER * * {PASSWORD}")
    assert "REGISTER SUCCESS dana" in dana.expect("REGISTER SUCCESS", "FAIL REGISTER")
    dana.send(f"QUIT :{why}")
    dana.close()
    gateway = Gateway(root, free_ports(1)[0])
    gateway.start()
    return gateway


def test_sasl_through_the_gateway_survives_the_death_of_the_node(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    nodes = cluster_factory(3)
    gateway = account_then_gateway(nodes[0], tmp_path, "moving to the gateway")
    clients: list[IRCClient] = []
    try:
        mallory, answer = log_in(gateway.port, "dana", "not the password")
        clients.append(mallory)
        assert " 904 " in answer
        register(mallory, "mallory")  # a refused login still registers, without an account
        assert whois_account(mallory, "mallory") is None
        mallory.send("QUIT :bye")

        client, answer = log_in(gateway.port, "dana", PASSWORD)
        clients.append(client)
        assert " 903 " in answer and any(" 900 " in line for line in client.lines)
        register(client, "dana")

        def home_node() -> Node | None:
            counts = [(n, (n.status() or {}).get("clients") or 0) for n in nodes]
            ones = [n for n, count in counts if count == 1]
            return ones[0] if len(ones) == 1 and sum(c for _, c in counts) == 1 else None

        home = wait_for(home_node, 20, "dana alone on one node", interval=0.3)
        observer = IRCClient(next(n for n in nodes if n is not home).irc_port, "observer",
                             caps=["account-tag"])  # fmt: skip
        clients.append(observer)
        assert whois_account(observer, "dana") == "dana"
        joined(client)
        joined(observer)
        client.expect(":observer!")

        home.kill()
        client.send("PRIVMSG #stream :said after the failover")
        line = observer.expect("PRIVMSG #stream", timeout=60)
        tags = line.split(" ", 1)[0]
        assert line.endswith(":said after the failover") and "account=dana" in tags, line
        assert whois_account(observer, "dana") == "dana"
        assert "resumed as dana" in gateway.log_text()
        sentinel(observer, "#stream", client)  # what the failover showed dana, read to here
        assert not [x for x in client.lines if x.startswith("ERROR") or " 904 " in x]
    finally:
        for each in clients:
            each.close()
        gateway.stop()


IRSSI_SASL_CONFIG = """
settings = {{
  core = {{ real_name = "Dana"; user_name = "dana"; nick = "dana"; }};
  "fe-common/core" = {{ autocreate_windows = "yes"; }};
}};
chatnets = {{
  gw = {{ type = "IRC"; sasl_mechanism = "PLAIN"; sasl_username = "dana";
          sasl_password = "{password}"; }};
}};
servers = (
  {{ address = "127.0.0.1"; port = "{port}"; chatnet = "gw"; autoconnect = "yes";
     use_tls = "no"; }}
);
"""


@pytest.mark.integration
def test_irssi_logs_in_with_sasl_through_the_gateway(
    cluster_factory: Callable[..., list[Node]], tmp_path: Path
) -> None:
    """irssi sends NICK and USER only after its SASL exchange and CAP END."""
    if shutil.which("irssi") is None:
        pytest.skip("irssi is not installed (.ci/run installs it with apt)")
    (node,) = cluster_factory(1)
    gateway = account_then_gateway(node, tmp_path, "moving to irssi")
    home = tmp_path / "irssi-home"
    home.mkdir()
    (home / "config").write_text(IRSSI_SASL_CONFIG.format(password=PASSWORD, port=gateway.port))
    irssi = Terminal(["irssi", "--home", str(home)], home)
    observer = IRCClient(node.irc_port, "observer")
    try:
        wait_for(lambda: whois_account(observer, "dana") == "dana", 30, "irssi logged in",
                 interval=0.5)  # fmt: skip
    finally:
        observer.close()
        irssi.stop()
        gateway.stop()
