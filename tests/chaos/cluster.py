"""Chaos nodes: real ``twistd chatnode`` processes the nemesis kills, pauses and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import Agent, readBody

from tests.integration.harness import TWISTD, Watch, free_ports


@dataclass
class ChaosNode:
    """One node; ``host`` is its own address (its own loopback IP inside a namespace).

    Its processes are watched like the integration tests' (:class:`Watch`): one that
    died without the nemesis killing it, or logged a traceback or a critical line, is
    one of the run's violations (:meth:`faults`).
    """

    name: str
    data_dir: Path
    host: str
    irc_port: int
    peer_port: int
    status_port: int
    extra: list[str] = field(default_factory=list)
    #: Where the cluster knows it by, when peer links go through the run's proxy.
    proxy_port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False
    watch: Watch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.watch = Watch(self.name, self.data_dir.parent / f"{self.name}.log")

    @property
    def node_id(self) -> str:
        return f"{self.host}:{self.proxy_port or self.peer_port}"

    @property
    def irc(self) -> str:
        return f"{self.host}:{self.irc_port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            TWISTD, "-n", "--pidfile=", "chatnode", "--data-dir", str(self.data_dir),
            "--irc", f"tcp:{self.irc_port}:interface={self.host}",
            "--peer", f"tcp:{self.peer_port}:interface={self.host}",
            "--status", f"tcp:{self.status_port}:interface={self.host}",
            "--node-id", self.node_id, *self.extra,
        ]  # fmt: skip
        with open(self.watch.log_path, "ab") as log:
            log_from = log.tell()  # the child shares this offset once it runs
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent
            )
            self.watch.started(self.process, log_from)
        self.paused = False

    def faults(self) -> list[str]:
        """Every process of this node that died by itself (the nemesis did not kill it),
        did not stop on SIGTERM, or logged a traceback or critical line."""
        return self.watch.faults()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            self.watch.signalled(signum)
            os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """kill -9, and reap it."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM (after SIGCONT), then SIGKILL if it hangs."""
        if not self.alive():
            return
        assert self.process is not None
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.watch.runs[-1].hung = True
            self.kill()

    async def status(self, reactor: IReactorTime) -> dict[str, Any] | None:
        """``GET /status`` without blocking the reactor; None if it does not answer in 1 s."""
        if not self.alive() or self.paused:
            return None
        url = f"http://{self.host}:{self.status_port}/status".encode()
        request: Deferred[Any] = Agent(reactor).request(b"GET", url)  # type: ignore[arg-type]
        request.addTimeout(1.0, reactor)
        try:
            response = await request
            document: dict[str, Any] = json.loads(await readBody(response))
            return document
        except Exception:  # any failure means: not answering now
            return None


def make_nodes(root: Path, hosts: list[str], extra: list[str], *, proxied: bool) -> list[ChaosNode]:
    """Nodes on ``hosts``: in a namespace of the run's own, on the usual ports; on the
    host's loopback, on free ones, with a port of the proxy each if ``proxied``."""
    nodes = []
    for index, host in enumerate(hosts):
        irc, peer, status = free_ports(3) if proxied else (6667, 7667, 8667)
        proxy = free_ports(1)[0] if proxied else None
        nodes.append(ChaosNode(f"node{index}", root / f"node{index}", host, irc, peer, status,
                               list(extra), proxy))  # fmt: skip
    return nodes
