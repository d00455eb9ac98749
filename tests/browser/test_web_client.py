"""The bundled web client (``twistedchat/web/client/``) in a real browser, against real
nodes: headless Chromium through selenium, three ``twistd chatnode`` processes each
with a web endpoint (``--websocket``), and IRC clients on raw sockets.

The page is opened from a follower's web endpoint; bob and carol, plain IRC clients,
are on the leader, so never on the page's node. In the page a new account is created
(``REGISTER``), a channel joined, and bob and the page talk both ways, in the channel
and privately, while the nick list follows joins and away changes. Then the page's
node is killed (kill -9) while bob says 20 numbered lines at 5 a second: the page must
find another node by itself (``/nodes.json``), log in again by SASL (which takes its
session back), and show every line of bob's once and in order, whatever came by the
server's replay, by ``CHATHISTORY AFTER`` or live; and the user can talk again.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import watched_processes  # noqa: F401 - autouse fixture
from tests.integration.harness import (
    IRCClient,
    Node,
    free_ports,
    leader_of,
    make_cluster,
    sentinel,
    wait_for,
)

CHANNEL = "#webroom"
NICK = "webby"
PASSWORD = "correct horse battery"
LINES = 20  # bob's lines during the failover, "said 1" to "said 20"
RATE = 5.0  # lines a second
KILL_AFTER = 5  # the page's node dies right after bob's 5th line
SAID = re.compile(r"^said (\d+)$")
#: The README's picture: written when missing or with UPDATE_SCREENSHOTS=1 (a run does
#: not dirty the work tree otherwise); build/screenshots/web-client.png is always fresh.
IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "web-client.png"


@dataclass
class WebNode:
    """A node and the port of its web endpoint (the page and IRC over WebSocket)."""

    node: Node
    web_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"


@pytest.fixture
def web_nodes(tmp_path: Path) -> Iterator[list[WebNode]]:
    """Three nodes, each with its own ``--websocket`` port; stopped after the test."""
    nodes = make_cluster(tmp_path, 3, ["--flood-rate", "10"])  # bob talks at 5 lines/s
    web = [WebNode(node, port) for node, port in zip(nodes, free_ports(3), strict=True)]
    for each in web:
        each.node.extra += ["--websocket", f"tcp:{each.web_port}:interface=127.0.0.1"]
        each.node.start()
    try:
        wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
        for each in web:  # each node's web address is in the log: the page can fail over
            wait_for(lambda each=each: len(listed(each)) == 3, 15, f"{each.url}nodes.json")
        yield web
    finally:
        for each in web:
            each.node.stop()


def listed(web: WebNode) -> list[str]:
    """The WebSocket URLs ``web``'s ``/nodes.json`` names (none if it does not answer)."""
    try:
        with urllib.request.urlopen(web.url + "nodes.json", timeout=2) as response:
            return [node["url"] for node in json.load(response)["nodes"]]
    except OSError:
        return []


class Page:
    """The web client as a user sees it, through selenium."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    def js(self, script: str, *args: object) -> Any:
        return self.browser.execute_script(script, *args)

    def type_into(self, element_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.browser.find_element(By.ID, element_id).send_keys(text, Keys.ENTER)

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.CSS_SELECTOR, selector).click()

    def status(self) -> str:
        return str(self.js("return document.getElementById('status').textContent"))

    def texts(self, target: str) -> list[str]:
        """The text of every message the page shows in ``target``'s conversation (not
        own lines still waiting for their echo), in the page's order."""
        return list(
            self.js(
                "return Array.from(document.querySelectorAll("
                "'ol.log[data-target=\"' + arguments[0] + '\"] li.msg:not(.pending) .text'"
                ")).map(e => e.textContent)",
                target,
            )
        )

    def members(self) -> list[str]:
        return list(
            self.js(
                "return Array.from(document.querySelectorAll('#member-list li'))"
                ".map(e => e.dataset.nick + (e.classList.contains('away') ? ' (away)' : ''))"
            )
        )

    def wait_text(self, target: str, text: str, timeout: float = 15) -> None:
        wait_for(lambda: text in self.texts(target), timeout, f"{text!r} in the page's {target}")

    def wait_members(self, predicate: Callable[[list[str]], bool], what: str) -> None:
        wait_for(lambda: predicate(self.members()), 15, what)

    def say(self, text: str) -> None:
        self.type_into("input", text)


def irc_user(node: Node, nick: str) -> IRCClient:
    """``nick`` on ``node``, in the channel (where the page already is)."""
    client = IRCClient(node.irc_port, nick)
    client.send(f"JOIN {CHANNEL}")
    client.expect(" 366 ")
    return client


def test_web_client_chats_and_fails_over_by_itself(
    web_nodes: list[WebNode], browser: Any, screenshot: Callable[[str], Path]
) -> None:
    leader = leader_of([w.node for w in web_nodes])
    home = next(w for w in web_nodes if w.node is not leader)  # the page's node: a follower
    assert leader is not None and home.node is not leader
    page = Page(browser)
    people: list[IRCClient] = []
    try:
        browser.get(home.url)
        page.type_into("login-nick", NICK)
        page.browser.find_element("id", "login-password").send_keys(PASSWORD)
        page.click("#register-button")
        wait_for(lambda: "connected to node" in page.status(), 15, "the page to connect")
        wait_for(lambda: page.js("return !document.getElementById('chat').hidden"), 15,
                 "the account to be registered")  # fmt: skip

        page.type_into("join-input", CHANNEL)
        page.wait_members(lambda m: m == [NICK], "the page in the channel")
        page.say("/topic Trying the web client")
        wait_for(lambda: "web client" in browser.find_element("id", "topic").text, 10, "the topic")
        bob = irc_user(leader, "bob")
        carol = irc_user(leader, "carol")
        people += [bob, carol]
        page.wait_members(lambda m: {"bob", "carol"} <= set(m), "bob and carol in the nick list")
        carol.send("AWAY :lunch")
        page.wait_members(lambda m: "carol (away)" in m, "carol shown away")

        # Both ways in the channel, then privately.
        bob.send(f"PRIVMSG {CHANNEL} :hello from irc, webby")
        page.wait_text(CHANNEL, "hello from irc, webby")
        page.say("hi bob, the web says hello")
        bob.expect(f"PRIVMSG {CHANNEL} :hi bob, the web says hello")
        carol.send(f"PRIVMSG {CHANNEL} :back in an hour <b>not bold</b>")
        page.wait_text(CHANNEL, "back in an hour <b>not bold</b>")  # shown as text
        bob.send(f"PRIVMSG {NICK} :psst, a private word")
        page.wait_text("bob", "psst, a private word")
        page.click('#buffer-list li[data-target="bob"]')
        page.say("private reply")
        bob.expect("PRIVMSG bob :private reply")
        page.click(f'#buffer-list li[data-target="{CHANNEL}"]')
        page.say("/me waves from the browser")
        bob.expect(f"PRIVMSG {CHANNEL} :\x01ACTION waves from the browser\x01")
        page.say("see you all")
        bob.expect(f"PRIVMSG {CHANNEL} :see you all")
        page.wait_text(CHANNEL, "see you all")
        shot = screenshot("web-client")
        if os.environ.get("UPDATE_SCREENSHOTS") or not IMAGE.exists():  # the README's copy
            IMAGE.parent.mkdir(parents=True, exist_ok=True)
            IMAGE.write_bytes(shot.read_bytes())

        # The failover: the page's node dies while bob talks.
        start = time.monotonic()
        for number in range(1, LINES + 1):
            time.sleep(max(0.0, start + (number - 1) / RATE - time.monotonic()))
            bob.send(f"PRIVMSG {CHANNEL} :said {number}")
            if number == KILL_AFTER:
                home.node.kill()
        page.wait_text(CHANNEL, f"said {LINES}", timeout=30)
        status = page.status()
        assert "connected to node" in status and home.node.node_id not in status, status
        page.say("back after the failover")
        bob.expect(f"PRIVMSG {CHANNEL} :back after the failover", timeout=15)
        sentinel(bob, CHANNEL, lambda text: text in page.texts(CHANNEL))
        shown = [int(m[1]) for t in page.texts(CHANNEL) if (m := SAID.match(t))]
        assert shown == list(range(1, LINES + 1)), f"bob's lines as the page shows them: {shown}"
        assert page.texts(CHANNEL).count("hello from irc, webby") == 1
        assert set(page.members()) >= {NICK, "bob", "carol (away)"}, page.members()
        screenshot("web-client-failover")
    except BaseException:
        for entry in browser.get_log("browser"):
            print("browser:", entry)
        raise
    finally:
        for person in people:
            person.close()
